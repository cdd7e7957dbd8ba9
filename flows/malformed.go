package flows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/log"
)

// Reason classifies why a record was not accepted. The set is small and fixed so that it can
// label a metric.
type Reason string

const (
	// ReasonSyntax: the line is not one JSON object.
	ReasonSyntax Reason = "syntax"
	// ReasonBinary: control bytes or invalid UTF-8 where text was expected.
	ReasonBinary Reason = "binary"
	// ReasonType: a known field holds a value of the wrong JSON type.
	ReasonType Reason = "wrong-type"
	// ReasonValue: a known field holds a value outside its domain (an unknown action, a bad IP,
	// a policy hit that does not parse, a negative counter).
	ReasonValue Reason = "bad-value"
	// ReasonMissing: a field every record needs is absent.
	ReasonMissing Reason = "missing-field"
	// ReasonTooLong: the line exceeds the configured maximum length.
	ReasonTooLong Reason = "line-too-long"
	// ReasonTruncated: the input ended inside a record or a compressed stream.
	ReasonTruncated Reason = "truncated"
	// ReasonCorrupt: a compressed stream failed its integrity checks.
	ReasonCorrupt Reason = "corrupt"
)

// Reasons lists every reason, in a stable order.
var Reasons = []Reason{ReasonSyntax, ReasonBinary, ReasonType, ReasonValue, ReasonMissing, ReasonTooLong, ReasonTruncated, ReasonCorrupt}

// ParseError says why one record was refused and where in it.
type ParseError struct {
	Reason Reason
	// Field is the top-level field at fault, with a path below it where useful
	// ("policies.enforced_policies[1]"); empty for syntax errors.
	Field string
	// Offset is the byte offset in the record.
	Offset int
	Msg    string
}

func (e *ParseError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: field %s: %s", e.Reason, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s at byte %d: %s", e.Reason, e.Offset, e.Msg)
}

// reasonOf returns the reason of a *ParseError, or ReasonSyntax.
func reasonOf(err error) Reason {
	if pe, ok := errors.AsType[*ParseError](err); ok {
		return pe.Reason
	}
	return ReasonSyntax
}

// Location is where a record came from: a file (or a request) and a line in it, counted from 1.
type Location struct {
	Source string
	Line   int
}

func (l Location) String() string { return fmt.Sprintf("%s:%d", l.Source, l.Line) }

// DefaultKeepLocations is how many locations a Tally keeps per reason.
const DefaultKeepLocations = 5

// Tally counts accepted records and refused ones by reason, keeping the first few locations of
// each reason. It logs the first occurrence of each reason once, and is safe for concurrent use.
type Tally struct {
	// KeepLocations is how many locations to keep per reason; zero means DefaultKeepLocations.
	KeepLocations int

	mu      sync.Mutex
	records uint64
	reasons map[Reason]*reasonTally
}

type reasonTally struct {
	count uint64
	first []Location
}

// Accepted counts n good records.
func (t *Tally) Accepted(n int) {
	t.mu.Lock()
	t.records += uint64(n)
	t.mu.Unlock()
}

// Malformed counts one refused record. The first of each reason is logged with its location.
func (t *Tally) Malformed(ctx context.Context, reason Reason, at Location, err error) {
	t.add(ctx, reason, 1, []Location{at}, err)
}

// add counts n refusals for one reason, at locations first (the first few of them), err being
// the first one's error.
func (t *Tally) add(ctx context.Context, reason Reason, n uint64, first []Location, err error) {
	t.mu.Lock()
	if t.reasons == nil {
		t.reasons = make(map[Reason]*reasonTally)
	}
	r := t.reasons[reason]
	if r == nil {
		r = &reasonTally{}
		t.reasons[reason] = r
	}
	logIt := r.count == 0
	r.count += n
	keep := t.KeepLocations
	if keep == 0 {
		keep = DefaultKeepLocations
	}
	for _, at := range first {
		if len(r.first) < keep {
			r.first = append(r.first, at)
		}
	}
	t.mu.Unlock()
	if logIt && len(first) > 0 {
		log.FromContext(ctx).Info("Skipping malformed flow record; later ones with this reason are only counted",
			"reason", string(reason), "at", first[0].String(), "error", err)
	}
}

// MalformedCount is the tally of one reason.
type MalformedCount struct {
	Reason Reason `json:"reason"`
	Count  uint64 `json:"count"`
	// First holds the locations ("file:line") of the first few records refused for this reason.
	First []string `json:"first"`
}

// TallyReport is a copy of a Tally's counts.
type TallyReport struct {
	Records   uint64           `json:"records"`
	Malformed []MalformedCount `json:"malformed"`
}

// MalformedTotal sums the malformed counts.
func (r TallyReport) MalformedTotal() uint64 {
	var n uint64
	for _, m := range r.Malformed {
		n += m.Count
	}
	return n
}

// Count returns the count of one reason.
func (r TallyReport) Count(reason Reason) uint64 {
	for _, m := range r.Malformed {
		if m.Reason == reason {
			return m.Count
		}
	}
	return 0
}

// Report copies the counts, reasons sorted by name.
func (t *Tally) Report() TallyReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	rep := TallyReport{Records: t.records, Malformed: []MalformedCount{}}
	for reason, r := range t.reasons {
		m := MalformedCount{Reason: reason, Count: r.count, First: make([]string, len(r.first))}
		for i, l := range r.first {
			m.First[i] = l.String()
		}
		rep.Malformed = append(rep.Malformed, m)
	}
	sort.Slice(rep.Malformed, func(i, j int) bool { return rep.Malformed[i].Reason < rep.Malformed[j].Reason })
	return rep
}
