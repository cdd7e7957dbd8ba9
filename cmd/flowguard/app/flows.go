package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/flowguard/flowguard/flows"
)

// FlowsSummarizeOptions configure `flowguard flows summarize`.
type FlowsSummarizeOptions struct {
	// Paths are flow-log files or folders, read in order.
	Paths []string
	// Output is text or json.
	Output string
	// MaxLineBytes bounds one record's line.
	MaxLineBytes int
	// LoadSnapshot and SaveSnapshot name traffic graph snapshot files to start from and to
	// write the result to.
	LoadSnapshot, SaveSnapshot string
}

// AddFlags registers the summarize flags.
func (o *FlowsSummarizeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.Paths, "flows", nil, "flow-log file or folder (plain or gzip, rotated sets oldest first); repeatable")
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	fs.IntVar(&o.MaxLineBytes, "max-line-bytes", flows.DefaultMaxLineBytes, "longest record line accepted; longer lines are counted as malformed")
	fs.StringVar(&o.LoadSnapshot, "load-snapshot", "", "traffic graph snapshot to add the flows to")
	fs.StringVar(&o.SaveSnapshot, "save-snapshot", "", "write the resulting traffic graph to this snapshot file")
}

// Validate checks the options.
func (o *FlowsSummarizeOptions) Validate() error {
	if len(o.Paths) == 0 && o.LoadSnapshot == "" {
		return badInput(fmt.Errorf("--flows: at least one file or folder is required"))
	}
	if o.Output != "text" && o.Output != "json" {
		return badInput(fmt.Errorf("--output %q: must be text or json", o.Output))
	}
	if o.MaxLineBytes < 1024 {
		return badInput(fmt.Errorf("--max-line-bytes %d: must be at least 1024", o.MaxLineBytes))
	}
	return nil
}

func newFlowsCommand(log *LogOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "flows",
		Short: "Work with observed Calico flows",
	}
	cmd.AddCommand(newFlowsSummarizeCommand(log))
	return cmd
}

func newFlowsSummarizeCommand(log *LogOptions) *cobra.Command {
	o := &FlowsSummarizeOptions{}
	cmd := &cobra.Command{
		Use:   "summarize --flows PATH...",
		Short: "Read flow logs and print the records read, the malformed ones by reason, and the aggregated edges",
		Example: `  flowguard flows summarize --flows /var/log/calico/flowlogs
  flowguard flows summarize --flows flows.log.2.gz --flows flows.log.1 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			ctx := logf.IntoContext(cmd.Context(), log.Logger(cmd.ErrOrStderr()))
			return runFlowsSummarize(ctx, o, cmd.OutOrStdout())
		},
	}
	o.AddFlags(cmd.Flags())
	completeValues(cmd, "output", fixed("text", "json"))
	return cmd
}

func runFlowsSummarize(ctx context.Context, o *FlowsSummarizeOptions, out io.Writer) error {
	// Offline files can be of any age: keep everything.
	g, err := flows.NewGraph(flows.GraphOptions{Retention: -1, MaxEdges: -1})
	if err != nil {
		return err
	}
	if o.LoadSnapshot != "" {
		if err := g.LoadFile(o.LoadSnapshot); err != nil {
			return badInput(err)
		}
	}
	tally := &flows.Tally{}
	r := flows.NewReader(tally)
	r.MaxLineBytes = o.MaxLineBytes
	app := g.NewAppender(0)
	if err := r.ReadPaths(ctx, o.Paths, app.Add); err != nil {
		return badInput(err)
	}
	app.Flush()
	if o.SaveSnapshot != "" {
		if err := g.SaveFile(o.SaveSnapshot); err != nil {
			return err
		}
	}
	edges := g.Edges(flows.Query{})
	flows.SortEdges(edges)
	rep := tally.Report()
	if o.Output == "json" {
		return writeSummaryJSON(out, rep, edges)
	}
	return writeSummaryText(out, rep, edges)
}

func writeSummaryText(out io.Writer, rep flows.TallyReport, edges []flows.Edge) error {
	fmt.Fprintf(out, "Records read: %d\n", rep.Records)
	fmt.Fprintf(out, "Malformed: %d\n", rep.MalformedTotal())
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, m := range rep.Malformed {
		more := ""
		if m.Count > uint64(len(m.First)) {
			more = ", ..."
		}
		fmt.Fprintf(w, "  %s\t%d\t%s%s\n", m.Reason, m.Count, strings.Join(m.First, ", "), more)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "Edges: %d\n", len(edges))
	if len(edges) == 0 {
		return nil
	}
	w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "  SOURCE\t\tDESTINATION\t\tPROTO/PORT\tACTION\tREPORTER\tFLOWS\tLAST SEEN")
	for _, e := range edges {
		fmt.Fprintf(w, "  %s\t->\t%s\t:\t%s\t%s\t%s\t%d\t%s\n",
			e.Src.String(), e.Dst.String(), protoPort(&e), e.Action, e.Reporter, e.Flows, e.LastSeen.UTC().Format(time.RFC3339))
	}
	return w.Flush()
}

func protoPort(e *flows.Edge) string {
	if e.DstPort == 0 {
		return e.Proto.String()
	}
	return fmt.Sprintf("%s/%d", e.Proto, e.DstPort)
}

type summaryJSON struct {
	Records   uint64                 `json:"records"`
	Malformed []flows.MalformedCount `json:"malformed"`
	Edges     []edgeJSON             `json:"edges"`
}

type endpointJSON struct {
	Type           string            `json:"type"`
	Namespace      string            `json:"namespace,omitempty"`
	Name           string            `json:"name"`
	Labels         map[string]string `json:"labels,omitempty"`
	ServiceAccount string            `json:"serviceAccount,omitempty"`
	IP             string            `json:"ip,omitempty"`
}

type edgeJSON struct {
	Source      endpointJSON `json:"source"`
	Destination endpointJSON `json:"destination"`
	Proto       string       `json:"proto"`
	Port        uint16       `json:"port,omitempty"`
	Action      string       `json:"action"`
	Reporter    string       `json:"reporter"`
	Flows       uint64       `json:"flows"`
	Bytes       uint64       `json:"bytes"`
	Packets     uint64       `json:"packets"`
	FirstSeen   time.Time    `json:"firstSeen"`
	LastSeen    time.Time    `json:"lastSeen"`
	Enforced    []string     `json:"enforcedPolicies,omitempty"`
	Pending     []string     `json:"pendingPolicies,omitempty"`
}

func endpointOut(e *flows.Endpoint) endpointJSON {
	out := endpointJSON{Type: e.Type.String(), Namespace: e.Namespace, Name: e.Name, ServiceAccount: e.ServiceAccount}
	if len(e.Labels) > 0 {
		out.Labels = e.Labels.Map()
	}
	if e.IP != (netip.Addr{}) {
		out.IP = e.IP.String()
	}
	return out
}

func hitStrings(hits []flows.PolicyHit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.String())
	}
	return out
}

func writeSummaryJSON(out io.Writer, rep flows.TallyReport, edges []flows.Edge) error {
	s := summaryJSON{Records: rep.Records, Malformed: rep.Malformed, Edges: make([]edgeJSON, 0, len(edges))}
	for i := range edges {
		e := &edges[i]
		s.Edges = append(s.Edges, edgeJSON{
			Source: endpointOut(&e.Src), Destination: endpointOut(&e.Dst),
			Proto: e.Proto.String(), Port: e.DstPort, Action: e.Action.String(), Reporter: e.Reporter.String(),
			Flows: e.Flows, Bytes: e.Bytes, Packets: e.Packets,
			FirstSeen: e.FirstSeen.UTC(), LastSeen: e.LastSeen.UTC(),
			Enforced: hitStrings(e.Enforced), Pending: hitStrings(e.Pending),
		})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}
