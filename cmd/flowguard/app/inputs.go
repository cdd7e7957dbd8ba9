package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/netpol"
)

// malformedWarnShare is the share of malformed flow records above which the offline commands warn:
// a few bad lines are normal in rotated logs, a tenth of them means the logs are not what they seem.
const malformedWarnShare = 0.01

// loadClusterFiles reads the cluster state of -f. Input that holds no object flowguard reads is
// an error: an empty folder or a wrong path must not pass as a cluster without policies.
// stdin is what "-" holds when the caller read it (see readStdin); nil reads standard input.
func loadClusterFiles(paths []string, recursive bool, stdin []byte) (*netpol.Cluster, error) {
	c, err := netpol.LoadWith(netpol.LoadOptions{Recursive: recursive, Stdin: stdinReader(stdin)}, paths...)
	if err != nil {
		return nil, badInput(fmt.Errorf("read cluster state: %w", err))
	}
	if len(c.Policies()) == 0 && len(c.Namespaces()) == 0 && len(c.Workloads()) == 0 &&
		len(c.NetworkSets()) == 0 && len(c.HostEndpoints()) == 0 {
		return nil, badInput(fmt.Errorf("read cluster state: -f %s: no object flowguard reads (policies, namespaces, workloads, network sets)",
			strings.Join(paths, ", ")))
	}
	return c, nil
}

// readStdin reads standard input once for the one manifest flag that names "-" (-f - or
// --change -), so that every reader of that flag's objects sees them; nil when none does. Two
// flags cannot both read it.
func readStdin(in io.Reader, flags map[string][]string) ([]byte, error) {
	var named []string
	for _, flag := range slices.Sorted(maps.Keys(flags)) {
		if slices.Contains(flags[flag], "-") {
			named = append(named, flag)
		}
	}
	switch len(named) {
	case 0:
		return nil, nil
	case 1:
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, badInput(fmt.Errorf("%s -: read standard input: %w", named[0], err))
		}
		return data, nil
	}
	return nil, badInput(fmt.Errorf("%s: only one of them can read standard input (-)", strings.Join(named, " and ")))
}

// stdinReader is a reader of what readStdin read, or nil (standard input itself) when it read nothing.
func stdinReader(data []byte) io.Reader {
	if data == nil {
		return nil
	}
	return bytes.NewReader(data)
}

// addRecursiveFlag registers -R as kubectl has it: -f folders are read without their subfolders
// unless it is given.
func addRecursiveFlag(fs *pflag.FlagSet, recursive *bool) {
	fs.BoolVarP(recursive, "recursive", "R", false, "read -f folders' subfolders too")
}

// whyFlowRules is what check and audit say when --flows holds no record.
const whyFlowRules = "the flow rules would pass for lack of evidence (--allow-no-flows runs without them)"

// flowInput is the observed traffic an offline command judges by, and what reading it counted.
type flowInput struct {
	// Graph is nil when no traffic is used: no --flows, or none read and --allow-no-flows.
	Graph  *flows.Graph
	Report flows.TallyReport
	// Newest is the end time of the newest record.
	Newest time.Time
}

// flowsJSON is what JSON outputs say about the flows read.
type flowsJSON struct {
	Records   uint64                 `json:"records"`
	Malformed []flows.MalformedCount `json:"malformed"`
	// Warning is set when the malformed share is above what rotated logs explain.
	Warning string `json:"warning,omitempty"`
}

func (in flowInput) json() *flowsJSON {
	return &flowsJSON{Records: in.Report.Records, Malformed: in.Report.Malformed, Warning: malformedWarning(in.Report)}
}

// loadFlows reads --flows. Paths that yield no valid record are bad input (why says what would go
// wrong without them), unless allowNone says the user knows: the flow rules are then skipped, and
// say so. A malformed share above malformedWarnShare is a warning on stderr.
func loadFlows(ctx context.Context, paths []string, allowNone bool, why string, stderr io.Writer) (flowInput, error) {
	if len(paths) == 0 {
		return flowInput{}, nil
	}
	g, rep, newest, err := readFlowGraph(ctx, paths)
	in := flowInput{Graph: g, Report: rep, Newest: newest}
	if err != nil {
		return in, badInput(fmt.Errorf("read flows: %w", err))
	}
	if rep.Records == 0 {
		what := "the files are empty"
		if n := rep.MalformedTotal(); n > 0 {
			what = fmt.Sprintf("all %d are malformed (%s)", n, malformedSummary(rep))
		}
		if !allowNone {
			return in, badInput(fmt.Errorf("read flows %s: no valid flow record: %s; %s", strings.Join(paths, ", "), what, why))
		}
		fmt.Fprintf(stderr, "Warning: flows %s: no valid flow record: %s; the rules that need flows are skipped\n", strings.Join(paths, ", "), what)
		in.Graph = nil
		return in, nil
	}
	if w := malformedWarning(rep); w != "" {
		fmt.Fprintln(stderr, "Warning:", w)
	}
	return in, nil
}

// malformedWarning says how many records were malformed when they are more than
// malformedWarnShare of all; empty otherwise.
func malformedWarning(rep flows.TallyReport) string {
	bad := rep.MalformedTotal()
	total := bad + rep.Records
	if bad == 0 || float64(bad) <= malformedWarnShare*float64(total) {
		return ""
	}
	return fmt.Sprintf("%d of %d flow records (%.0f%%) are malformed and were skipped (%s)",
		bad, total, 100*float64(bad)/float64(total), malformedSummary(rep))
}

// readFlowGraph reads offline flow logs, which can be of any age, into a graph that keeps every
// record, and returns what the reader counted and the end time of the newest record.
func readFlowGraph(ctx context.Context, paths []string) (*flows.Graph, flows.TallyReport, time.Time, error) {
	var newest time.Time
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		return nil, flows.TallyReport{}, newest, err
	}
	tally := &flows.Tally{}
	app := g.NewAppender(0)
	err = flows.NewReader(tally).ReadPaths(ctx, paths, func(r *flows.Record) error {
		if r.End.After(newest) {
			newest = r.End
		}
		return app.Add(r)
	})
	app.Flush()
	return g, tally.Report(), newest, err
}

// unknownName returns an error for the first of names not among valid, naming the nearest valid
// one; what says what the names are ("--rule", "rule id").
func unknownName(flag, what string, names, valid []string) error {
	var errs []error
	for _, n := range names {
		if slices.Contains(valid, n) {
			continue
		}
		msg := fmt.Sprintf("%s %q: no %s has that name", flag, n, what)
		if near := nearest(n, valid); near != "" {
			msg += fmt.Sprintf("; did you mean %q?", near)
		}
		errs = append(errs, errors.New(msg))
	}
	if len(errs) > 0 {
		return badInput(errors.Join(errs...))
	}
	return nil
}

// nearest returns the candidate closest to s by edit distance, if it is close enough to be a
// likely typo (at most a third of its length away).
func nearest(s string, candidates []string) string {
	best, bestD := "", len(s)/3+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
