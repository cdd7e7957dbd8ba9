package flows

import (
	"net/netip"
	"sort"
	"strconv"
)

// quoteShort quotes b for an error message, cut to a readable length.
func quoteShort(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// proto reads a protocol as a name ("tcp"), a numeric string ("47") or a number.
func (p *Parser) proto(field string) (Protocol, error) {
	s := &p.sc
	at := s.i
	if s.peek() == kindNumber {
		n, err := p.uint(field)
		if err != nil {
			return 0, err
		}
		if n > 255 {
			return 0, valueError(field, "protocol number out of range", at)
		}
		return Protocol(n), nil
	}
	return enumOf(p, field, protocolOf)
}

// ipAddr reads an address; null and "-" (aggregated away) read as the zero Addr.
func (p *Parser) ipAddr(field string) (netip.Addr, error) {
	at := p.sc.i
	b, ok, err := p.rawStr(field)
	if err != nil || !ok || len(b) == 0 || (len(b) == 1 && b[0] == '-') {
		return netip.Addr{}, err
	}
	a, perr := netip.ParseAddr(bstr(b))
	if perr != nil {
		return netip.Addr{}, valueError(field, "not an IP address: "+quoteShort(b), at)
	}
	return a.Unmap(), nil
}

// rawValue validates the next value and returns its bytes, for interning whole sub-objects by
// their text: a label set or policy trace seen before costs one map lookup and no parsing.
func (p *Parser) rawValue(field string, kinds ...valueKind) ([]byte, valueKind, error) {
	s := &p.sc
	got := s.peek()
	okKind := got == kindNull
	for _, k := range kinds {
		okKind = okKind || got == k
	}
	if !okKind {
		want := kinds[0].String()
		if len(kinds) > 1 {
			want += " or " + kinds[1].String()
		}
		return nil, got, typeError(field, want, got, s.i)
	}
	start := s.i
	if err := s.skip(0); err != nil {
		return nil, got, inField(err, field)
	}
	return s.b[start:s.i], got, nil
}

func (p *Parser) parseLabels(raw []byte, kind valueKind, field string) (Labels, error) {
	s := &p.sub
	s.reset(raw)
	if kind == kindObject {
		s.i++
		var out Labels
		for first := true; ; first = false {
			ok, err := s.more(first, '}')
			if err != nil || !ok {
				return out, err
			}
			k, err := s.key()
			if err != nil {
				return nil, err
			}
			if string(k) != "labels" {
				if err := s.skip(0); err != nil {
					return nil, err
				}
				continue
			}
			switch got := s.peek(); got {
			case kindArray:
				if out, err = p.labelArray(s, field+".labels"); err != nil {
					return nil, err
				}
			case kindNull:
				_, _, _ = s.literal()
			default:
				return nil, typeError(field+".labels", "array", got, s.i)
			}
		}
	}
	return p.labelArray(s, field)
}

func (p *Parser) labelArray(s *scanner, path string) (Labels, error) {
	s.i++ // '['
	var out Labels
	for first, i := true, 0; ; first, i = false, i+1 {
		ok, err := s.more(first, ']')
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		elem := path + "[" + strconv.Itoa(i) + "]"
		if got := s.peek(); got != kindString {
			return nil, typeError(elem, "string", got, s.i)
		}
		b, err := s.str()
		if err != nil {
			return nil, inField(err, elem)
		}
		eq := -1
		for j, c := range b {
			if c == '=' {
				eq = j
				break
			}
		}
		if eq <= 0 {
			return nil, valueError(elem, "label is not key=value: "+quoteShort(b), s.i)
		}
		out = append(out, Label{Key: p.in.str(b[:eq]), Value: p.in.str(b[eq+1:])})
	}
	return canonicalLabels(out), nil
}

// canonicalLabels sorts by key and keeps the last value of a repeated key.
func canonicalLabels(l Labels) Labels {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Key < l[j].Key })
	out := l[:0]
	for i, kv := range l {
		if i+1 < len(l) && l[i+1].Key == kv.Key {
			continue
		}
		out = append(out, kv)
	}
	if len(out) == 0 {
		return nil
	}
	return out[:len(out):len(out)]
}

// calicoPolicies reads the policies object: enforced_policies, pending_policies, and the older
// all_policies (read as enforced when enforced_policies is absent). Hits are sorted by index.
func (p *Parser) calicoPolicies() (enforced, pending []PolicyHit, err error) {
	raw, kind, err := p.rawValue("policies", kindObject)
	if err != nil || kind == kindNull {
		return nil, nil, err
	}
	if t, ok := p.in.traces[string(raw)]; ok {
		return t.enforced, t.pending, nil
	}
	s := &p.sub
	s.reset(raw)
	s.i++
	var t policyTrace
	var all []PolicyHit
	haveEnforced := false
	for first := true; ; first = false {
		ok, err := s.more(first, '}')
		if err != nil {
			return nil, nil, inField(err, "policies")
		}
		if !ok {
			break
		}
		k, err := s.key()
		if err != nil {
			return nil, nil, inField(err, "policies")
		}
		switch string(k) {
		case "enforced_policies":
			haveEnforced = true
			t.enforced, err = p.hitList(s, "policies.enforced_policies")
		case "pending_policies":
			t.pending, err = p.hitList(s, "policies.pending_policies")
		case "all_policies":
			all, err = p.hitList(s, "policies.all_policies")
		case "transit_policies":
			_, err = p.hitList(s, "policies.transit_policies")
		default:
			err = inField(s.skip(0), "policies")
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if !haveEnforced {
		t.enforced = all
	}
	remember(p.in.traces, p.in.limit, raw, t)
	return t.enforced, t.pending, nil
}

func (p *Parser) hitList(s *scanner, path string) ([]PolicyHit, error) {
	if open, err := s.openArray(path); !open {
		return nil, err
	}
	var hits []PolicyHit
	for first, i := true, 0; ; first, i = false, i+1 {
		ok, err := s.more(first, ']')
		if err != nil {
			return nil, inField(err, path)
		}
		if !ok {
			break
		}
		elem := path + "[" + strconv.Itoa(i) + "]"
		if got := s.peek(); got != kindString {
			return nil, typeError(elem, "string", got, s.i)
		}
		b, err := s.str()
		if err != nil {
			return nil, inField(err, elem)
		}
		h, err := parseHit(b, p.in)
		if err != nil {
			return nil, inField(err, elem)
		}
		hits = append(hits, h)
	}
	sortHits(hits)
	return hits[:len(hits):len(hits)], nil
}

// domains reads dest_domains: an array of names, a single name, or null.
func (p *Parser) domains() ([]string, error) {
	raw, kind, err := p.rawValue("dest_domains", kindArray, kindString)
	if err != nil || kind == kindNull {
		return nil, err
	}
	if d, ok := p.in.domains[string(raw)]; ok {
		return d, nil
	}
	s := &p.sub
	s.reset(raw)
	var out []string
	if kind == kindString {
		b, _ := s.str()
		if len(b) > 0 && string(b) != "-" {
			out = []string{p.in.str(b)}
		}
	} else {
		s.i++
		for first, i := true, 0; ; first, i = false, i+1 {
			ok, err := s.more(first, ']')
			if err != nil {
				return nil, inField(err, "dest_domains")
			}
			if !ok {
				break
			}
			if got := s.peek(); got != kindString {
				return nil, typeError("dest_domains["+strconv.Itoa(i)+"]", "string", got, s.i)
			}
			b, _ := s.str()
			out = append(out, p.in.str(b))
		}
	}
	remember(p.in.domains, p.in.limit, raw, out)
	return out, nil
}
