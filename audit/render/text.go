package render

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/audit"
)

// textMaxFlows caps the flows printed per finding; the json output has them all.
const textMaxFlows = 5

// WriteText prints a summary (score, counts, a table per namespace and per rule), then every
// finding grouped by severity, most severe first, for a terminal 100 columns wide.
func WriteText(w io.Writer, in Input) error {
	bw := bufio.NewWriter(w)
	s := in.Result.Summarize()
	subject := in.Subject
	if subject == "" {
		subject = "cluster"
	}
	fmt.Fprintf(bw, "flowguard audit of %s, evaluated %s\n", subject, stamp(s.EvaluatedAt))
	if s.Window != nil {
		fmt.Fprintf(bw, "Traffic window: %s to %s\n", stamp(s.Window.Start), stamp(s.Window.End))
	} else {
		fmt.Fprintln(bw, "Traffic window: none (no flows given; rules that need traffic were skipped)")
	}
	fmt.Fprintf(bw, "Score: %d/100   Findings: %d (%s)\n\n", s.Score, s.Total, countsText(s.BySeverity))

	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tSCORE\tCRITICAL\tHIGH\tMEDIUM\tLOW\tINFO")
	for _, ns := range s.Namespaces {
		countsRow(tw, ns.Namespace, ns)
	}
	if s.Cluster.Total > 0 {
		countsRow(tw, "(cluster-scoped)", s.Cluster)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.ByRule) > 0 {
		fmt.Fprintln(bw)
		tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tSEVERITY\tFINDINGS")
		for _, rc := range s.ByRule {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", rc.Rule, rc.Severity, rc.Count)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintln(bw)
	}
	for _, sk := range s.Skipped {
		fmt.Fprintf(bw, "Skipped %s: %s\n", sk.Rule, sk.Reason)
	}

	fs := in.Result.Findings
	for i := 0; i < len(fs); {
		sev := fs[i].Severity
		j := i
		for j < len(fs) && fs[j].Severity == sev {
			j++
		}
		fmt.Fprintf(bw, "\n%s (%d)\n", strings.ToUpper(string(sev)), j-i)
		for _, f := range fs[i:j] {
			writeFindingText(bw, f)
		}
		i = j
	}
	if len(fs) == 0 {
		fmt.Fprintln(bw, "\nNo findings.")
	}
	return bw.Flush()
}

func countsRow(w io.Writer, name string, ns audit.NamespaceSummary) {
	c := ns.BySeverity
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", name, ns.Score, c.Critical, c.High, c.Medium, c.Low, c.Info)
}

func countsText(c v1alpha1.SeverityCounts) string {
	return fmt.Sprintf("%d critical, %d high, %d medium, %d low, %d info", c.Critical, c.High, c.Medium, c.Low, c.Info)
}

func writeFindingText(w io.Writer, f audit.Finding) {
	fmt.Fprintf(w, "\n  [%s] %s\n", f.Rule, f.Resource)
	writeWrapped(w, "    ", f.Message)
	ev := f.Evidence
	if len(ev.Flows) > 0 || len(ev.Facts) > 0 {
		fmt.Fprintln(w, "    Evidence:")
		for i, fl := range ev.Flows {
			if i == textMaxFlows {
				break
			}
			fmt.Fprintf(w, "      %s\n", audit.FlowLine(fl))
		}
		if more := max(ev.FlowsTotal, len(ev.Flows)) - min(len(ev.Flows), textMaxFlows); more > 0 {
			fmt.Fprintf(w, "      ... and %d more flows (-o json lists them)\n", more)
		}
		for _, k := range slices.Sorted(maps.Keys(ev.Facts)) {
			fmt.Fprintf(w, "      %s: %s\n", k, audit.FactText(ev.Facts[k]))
		}
	}
	if f.Fix != nil {
		fmt.Fprintln(w, "    Fix:")
		writeWrapped(w, "      ", f.Fix.Description)
		if f.Fix.Policy != nil {
			for _, line := range audit.PolicyLines(f.Fix.Policy) {
				fmt.Fprintf(w, "        %s\n", line)
			}
		}
	}
}

// writeWrapped prints s word-wrapped at 100 columns, each line behind indent.
func writeWrapped(w io.Writer, indent, s string) {
	const width = 100
	line := indent
	for _, word := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			fmt.Fprintln(w, line)
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	if len(line) > len(indent) {
		fmt.Fprintln(w, line)
	}
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
