package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/netpol"
)

// ExplainOptions are the flags of `flowguard explain`.
type ExplainOptions struct {
	Files     []string
	Recursive bool
	From      string
	To        string
	Port      string
	Output    string
	Pending   bool
}

// AddFlags registers the flags.
func (o *ExplainOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&o.Files, "filename", "f", nil, "manifests: files or folders (YAML or JSON, multi-document, Lists); - reads standard input")
	addRecursiveFlag(fs, &o.Recursive)
	fs.StringVar(&o.From, "from", "", "source: NAMESPACE/NAME (a Pod or workload), NAMESPACE/KIND/NAME, an IP address or a CIDR")
	fs.StringVar(&o.To, "to", "", "destination: NAMESPACE/NAME (a Pod or workload), NAMESPACE/KIND/NAME, an IP address or a CIDR")
	fs.StringVar(&o.Port, "port", "", "destination PORT[/PROTO]: a number or a port name of the destination, and tcp (default), udp, sctp, icmp, icmpv6 or a protocol number; for ICMP the number is the type")
	fs.StringVarP(&o.Output, "output", "o", "text", "output format: text or json")
	fs.BoolVar(&o.Pending, "pending", false, "answer with staged policies enforced, as Calico's pending policies do")
}

// Validate checks the flags.
func (o *ExplainOptions) Validate() error {
	var errs []error
	if len(o.Files) == 0 {
		errs = append(errs, errors.New("-f: at least one file or folder is required"))
	}
	if o.From == "" {
		errs = append(errs, errors.New("--from: required"))
	}
	if o.To == "" {
		errs = append(errs, errors.New("--to: required"))
	}
	if o.Port == "" {
		errs = append(errs, errors.New("--port: required"))
	}
	if o.Output != "text" && o.Output != "json" {
		errs = append(errs, fmt.Errorf("--output %q: must be text or json", o.Output))
	}
	if len(errs) > 0 {
		return badInput(errors.Join(errs...))
	}
	return nil
}

func newExplainCommand() *cobra.Command {
	o := &ExplainOptions{}
	cmd := &cobra.Command{
		Use:   "explain -f PATH... --from PEER --to PEER --port PORT[/PROTO] [-o text|json]",
		Short: "Explain whether policies allow a connection, and which tier, policy and rule decide it",
		Long: `Explain evaluates the Kubernetes and Calico policies in the manifests for one connection:
egress at the source and ingress at the destination, each with the tier, policy and rule that
decided it (or "no policy selects this endpoint", or the tier's default action).

Exit status: 0 when the question was answered (allowed or denied), 2 on bad input. Objects
that cannot be read are reported on standard error, the rest are still evaluated, and the
exit status is 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.AddFlags(cmd.Flags())
	completeValues(cmd, "output", fixed("text", "json"))
	return cmd
}

// explainJSON is the -o json document: top-level allowed, then each direction.
type explainJSON struct {
	Allowed  bool            `json:"allowed"`
	From     string          `json:"from"`
	To       string          `json:"to"`
	Protocol string          `json:"protocol"`
	Port     *uint16         `json:"port,omitempty"`
	ICMPType *int16          `json:"icmpType,omitempty"`
	Pending  bool            `json:"pending,omitempty"`
	Egress   netpol.Decision `json:"egress"`
	Ingress  netpol.Decision `json:"ingress"`
}

// Run answers the question.
func (o *ExplainOptions) Run(stdout, stderr io.Writer) error {
	cluster, loadErr := netpol.LoadWith(netpol.LoadOptions{Recursive: o.Recursive}, o.Files...)
	reportLoadErrors(stderr, loadErr)
	src, err := cluster.ParsePeer(o.From)
	if err != nil {
		return badInput(fmt.Errorf("--from: %w", err))
	}
	dst, err := cluster.ParsePeer(o.To)
	if err != nil {
		return badInput(fmt.Errorf("--to: %w", err))
	}
	e := netpol.NewEngine(cluster)
	pkt, err := e.ParsePort(o.Port, dst)
	if err != nil {
		return badInput(fmt.Errorf("--port: %w", err))
	}
	var v netpol.Verdict
	if o.Pending {
		v = e.ExplainPending(src, dst, pkt)
	} else {
		v = e.Explain(src, dst, pkt)
	}
	if o.Output == "json" {
		doc := explainJSON{Allowed: v.Allowed, From: src.String(), To: dst.String(), Protocol: strings.ToUpper(pkt.Proto.String()),
			Pending: o.Pending, Egress: v.Egress, Ingress: v.Ingress}
		if pkt.Proto.HasPorts() {
			doc.Port = &pkt.Port
		} else if pkt.ICMPType >= 0 {
			doc.ICMPType = &pkt.ICMPType
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("write explanation: %w", err)
		}
	} else {
		what := strings.ToUpper(pkt.Proto.String())
		if pkt.Proto.HasPorts() {
			what = fmt.Sprintf("%s %d", what, pkt.Port)
		} else if pkt.ICMPType >= 0 {
			what = fmt.Sprintf("%s type %d", what, pkt.ICMPType)
		}
		view := ""
		if o.Pending {
			view = " (staged policies enforced)"
		}
		if _, err := fmt.Fprintf(stdout, "%s -> %s %s%s: %s", src, dst, what, view, v); err != nil {
			return fmt.Errorf("write explanation: %w", err)
		}
	}
	if loadErr != nil {
		return badInput(errors.New("some objects could not be read; the answer considers the others"))
	}
	return nil
}

// reportLoadErrors writes every object that could not be read, one per line.
func reportLoadErrors(w io.Writer, err error) {
	if err == nil {
		return
	}
	var errs netpol.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, "Error:", e)
		}
		return
	}
	fmt.Fprintln(w, "Error:", err)
}
