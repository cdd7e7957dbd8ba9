package flows

import "strconv"

// goldmanePolicies reads Key.policies, a PolicyTrace of structured hits, interned by its text
// like Felix's string traces.
func (p *Parser) goldmanePolicies() (enforced, pending []PolicyHit, err error) {
	raw, kind, err := p.rawValue("Key.policies", kindObject)
	if err != nil || kind == kindNull {
		return nil, nil, err
	}
	if t, ok := p.in.traces[string(raw)]; ok {
		return t.enforced, t.pending, nil
	}
	// Parse the trace with the main scanner's helpers by pointing it at the trace's bytes.
	saved := p.sc
	p.sc = scanner{b: raw, esc: saved.esc}
	t, err := p.gmTrace()
	esc := p.sc.esc
	p.sc = saved
	p.sc.esc = esc
	if err != nil {
		return nil, nil, err
	}
	remember(p.in.traces, p.in.limit, raw, t)
	return t.enforced, t.pending, nil
}

func (p *Parser) gmTrace() (policyTrace, error) {
	s := &p.sc
	s.i++ // '{'
	var t policyTrace
	for first := true; ; first = false {
		ok, err := s.more(first, '}')
		if err != nil || !ok {
			return t, inField(err, "Key.policies")
		}
		k, err := s.key()
		if err != nil {
			return t, inField(err, "Key.policies")
		}
		switch string(k) {
		case "enforced_policies", "enforcedPolicies":
			t.enforced, err = p.gmHitList("Key.policies.enforced_policies")
		case "pending_policies", "pendingPolicies":
			t.pending, err = p.gmHitList("Key.policies.pending_policies")
		default:
			err = s.skip(0)
		}
		if err != nil {
			return t, err
		}
	}
}

func (p *Parser) gmHitList(path string) ([]PolicyHit, error) {
	s := &p.sc
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
		h, err := p.gmHit(path+"["+strconv.Itoa(i)+"]", 0)
		if err != nil {
			return nil, err
		}
		hits = append(hits, h)
	}
	sortHits(hits)
	return hits[:len(hits):len(hits)], nil
}

// gmHit reads one structured PolicyHit. An end-of-tier hit is reported the way flow logs report
// it: the triggering policy's kind and name, with rule index -1.
func (p *Parser) gmHit(path string, depth int) (PolicyHit, error) {
	s := &p.sc
	if got := s.peek(); got != kindObject {
		return PolicyHit{}, typeError(path, "object", got, s.i)
	}
	if depth > 1 {
		return PolicyHit{}, valueError(path, "trigger of a trigger", s.i)
	}
	s.i++
	var h PolicyHit
	var trigger *PolicyHit
	for first := true; ; first = false {
		ok, err := s.more(first, '}')
		if err != nil {
			return h, inField(err, path)
		}
		if !ok {
			break
		}
		k, err := s.key()
		if err != nil {
			return h, inField(err, path)
		}
		var n int64
		switch string(k) {
		case "kind":
			h.Kind, err = gmEnum(p, path+".kind", gmKinds)
		case "namespace":
			h.Namespace, err = p.str(path + ".namespace")
		case "name":
			h.Name, err = p.str(path + ".name")
		case "tier":
			h.Tier, err = p.str(path + ".tier")
		case "action":
			h.Action, err = gmEnum(p, path+".action", gmHitActions)
		case "policy_index", "policyIndex":
			n, err = p.gmInt(path + ".policy_index")
			if err == nil && (n < 0 || n > 1<<20) {
				err = valueError(path+".policy_index", "out of range", s.i)
			}
			h.Index = int(n)
		case "rule_index", "ruleIndex":
			n, err = p.gmInt(path + ".rule_index")
			if err == nil && (n < -2 || n > 1<<20) {
				err = valueError(path+".rule_index", "out of range", s.i)
			}
			h.RuleIndex = int(n)
		case "trigger":
			if s.peek() == kindNull {
				_, _, err = s.literal()
				break
			}
			var tr PolicyHit
			tr, err = p.gmHit(path+".trigger", depth+1)
			trigger = &tr
		default:
			err = s.skip(0)
		}
		if err != nil {
			return h, err
		}
	}
	if h.Kind == gmKindEndOfTier {
		if trigger == nil {
			return h, valueError(path, "end-of-tier hit without a trigger", s.i)
		}
		h.Kind, h.Namespace, h.Name, h.RuleIndex = trigger.Kind, trigger.Namespace, trigger.Name, -1
	}
	switch {
	case h.Kind == "":
		return h, &ParseError{Reason: ReasonMissing, Field: path + ".kind", Msg: "required field is absent"}
	case h.Action == "" && depth == 0:
		return h, &ParseError{Reason: ReasonMissing, Field: path + ".action", Msg: "required field is absent"}
	case h.Name == "":
		return h, &ParseError{Reason: ReasonMissing, Field: path + ".name", Msg: "required field is absent"}
	}
	if h.Kind == KindProfile && h.Tier == "" {
		h.Tier = ProfileTier
	}
	return h, nil
}
