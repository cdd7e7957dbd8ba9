package app

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/netpol"
)

// ConnectivityOptions are the flags of `flowguard connectivity`.
type ConnectivityOptions struct {
	Files     []string
	Recursive bool
	Output    string
}

var connectivityFormats = []string{"txt", "json", "csv", "md", "dot"}

// AddFlags registers the flags.
func (o *ConnectivityOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringSliceVarP(&o.Files, "filename", "f", nil, "manifests: files or folders (YAML or JSON, multi-document, Lists); - reads standard input")
	addRecursiveFlag(fs, &o.Recursive)
	fs.StringVarP(&o.Output, "output", "o", "txt", "output format: "+strings.Join(connectivityFormats, ", "))
}

// Validate checks the flags.
func (o *ConnectivityOptions) Validate() error {
	var errs []error
	if len(o.Files) == 0 {
		errs = append(errs, errors.New("-f: at least one file or folder is required"))
	}
	if o.Output == "text" {
		o.Output = "txt"
	}
	if !slices.Contains(connectivityFormats, o.Output) {
		errs = append(errs, fmt.Errorf("--output %q: must be one of %s", o.Output, strings.Join(connectivityFormats, ", ")))
	}
	if len(errs) > 0 {
		return badInput(errors.Join(errs...))
	}
	return nil
}

func newConnectivityCommand() *cobra.Command {
	o := &ConnectivityOptions{}
	cmd := &cobra.Command{
		Use:   "connectivity -f PATH... [-o txt|json|csv|md|dot]",
		Short: "List the connections the policies allow between workloads and to and from outside addresses",
		Long: `Connectivity evaluates the Kubernetes and Calico policies in the manifests and prints the
allowed connections between every pair of workloads (pods folded into their workload), and
between workloads and address space outside the cluster, one line per pair:

  ns/name[Kind] => ns/name[Kind] : TCP 8080,UDP 53
  0.0.0.0-9.255.255.255,11.0.0.0/8 => ns/name[Kind] : All Connections
  ns/agent[DaemonSet] (hostNetwork, no pod policy) => ns/name[Kind] : All Connections

A workload whose pods use the host network is marked in every format (json: srcHostNetwork,
dstHostNetwork; csv and md: src_host_network, dst_host_network; dot: a dashed node): Calico
makes no workload endpoint for it, so no pod policy governs it, and its edges are what the
policies of the other side allow.

dot is for graphviz (flowguard connectivity -f DIR -o dot | dot -Tsvg > map.svg): one box per
namespace, one edge per pair drawn both ways (dir=both) when both ways are allowed, "all" for
every connection. Edges that say the same of a whole namespace are drawn once, to or from its
box, and a namespace whose workloads all reach each other alike says so in its title.

Exit status: 0 on success, 2 on bad input. Objects that cannot be read are reported on
standard error, the rest are still analysed, and the exit status is 2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.AddFlags(cmd.Flags())
	completeValues(cmd, "output", fixed(connectivityFormats...))
	return cmd
}

// Run computes and prints the map.
func (o *ConnectivityOptions) Run(stdout, stderr io.Writer) error {
	cluster, loadErr := netpol.LoadWith(netpol.LoadOptions{Recursive: o.Recursive}, o.Files...)
	reportLoadErrors(stderr, loadErr)
	w := bufio.NewWriter(stdout)
	if err := writeConnectivity(w, o.Output, netpol.NewEngine(cluster).ConnectivityFunc); err != nil {
		return fmt.Errorf("write connectivity: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write connectivity: %w", err)
	}
	if loadErr != nil {
		return badInput(errors.New("some objects could not be read; the map shows the others"))
	}
	return nil
}

type connectivityEdgeJSON struct {
	Src            string `json:"src"`
	Dst            string `json:"dst"`
	Conn           string `json:"conn"`
	SrcHostNetwork bool   `json:"srcHostNetwork,omitempty"`
	DstHostNetwork bool   `json:"dstHostNetwork,omitempty"`
}

// hostNetworkMark follows a host-network workload's name in the txt and dot formats.
const hostNetworkMark = " (hostNetwork, no pod policy)"

// peerText is a peer's name, marked when no pod policy governs it.
func peerText(p netpol.ConnectivityPeer) string {
	if p.HostNetwork {
		return p.String() + hostNetworkMark
	}
	return p.String()
}

// writeConnectivity writes the edges walk hands over, each as it comes (the map is never held
// whole; dot holds the edges, to fold and merge them before drawing).
func writeConnectivity(w *bufio.Writer, format string, walk func(func(netpol.ConnectivityEdge) error) error) error {
	switch format {
	case "json":
		first := true
		if _, err := w.WriteString("["); err != nil {
			return err
		}
		err := walk(func(e netpol.ConnectivityEdge) error {
			b, err := json.Marshal(connectivityEdgeJSON{Src: e.Src.String(), Dst: e.Dst.String(), Conn: e.Conns.String(),
				SrcHostNetwork: e.Src.HostNetwork, DstHostNetwork: e.Dst.HostNetwork})
			if err != nil {
				return err
			}
			sep := ",\n  "
			if first {
				sep, first = "\n  ", false
			}
			if _, err := w.WriteString(sep); err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		})
		if err != nil {
			return err
		}
		_, err = w.WriteString("\n]\n")
		return err
	case "csv":
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"src", "dst", "conn", "src_host_network", "dst_host_network"}); err != nil {
			return err
		}
		err := walk(func(e netpol.ConnectivityEdge) error {
			return cw.Write([]string{e.Src.String(), e.Dst.String(), e.Conns.String(),
				strconv.FormatBool(e.Src.HostNetwork), strconv.FormatBool(e.Dst.HostNetwork)})
		})
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	case "md":
		fmt.Fprintln(w, "| src | dst | conn | src_host_network | dst_host_network |")
		fmt.Fprintln(w, "|-----|-----|------|------------------|------------------|")
		return walk(func(e netpol.ConnectivityEdge) error {
			_, err := fmt.Fprintf(w, "| %s | %s | %s | %t | %t |\n", mdEscape(e.Src.String()), mdEscape(e.Dst.String()), mdEscape(e.Conns.String()),
				e.Src.HostNetwork, e.Dst.HostNetwork)
			return err
		})
	case "dot":
		return writeDot(w, walk)
	}
	return walk(func(e netpol.ConnectivityEdge) error {
		// bufio.Writer keeps its first error and returns it from every later write.
		_, _ = w.WriteString(peerText(e.Src))
		_, _ = w.WriteString(" => ")
		_, _ = w.WriteString(peerText(e.Dst))
		_, _ = w.WriteString(" : ")
		_, _ = w.WriteString(e.Conns.String())
		return w.WriteByte('\n')
	})
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
