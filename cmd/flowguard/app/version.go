package app

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are stamped by make build and make image:
//
//	-ldflags "-X github.com/flowguard/flowguard/cmd/flowguard/app.version=v1.2.3 -X ....app.commit=<sha>"
//
// A binary built without them (go install ...@v1.2.3, go build) takes both from its build info.
var version, commit string

// VersionInfo says which flowguard a binary is.
type VersionInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	// Modified is set when the binary was built from a tree with uncommitted changes.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// String is the one-line form `flowguard version` and `flowguard --version` print.
func (v VersionInfo) String() string {
	commit := v.Commit
	if v.Modified {
		commit += ", modified"
	}
	return fmt.Sprintf("flowguard %s (commit %s, %s)", v.Version, commit, v.Go)
}

// CurrentVersion returns this binary's version.
func CurrentVersion() VersionInfo {
	info, _ := debug.ReadBuildInfo()
	return resolveVersion(version, commit, info)
}

// pseudoVersion matches a Go module pseudo-version (v0.0.0-20260101120000-0123456789ab and its
// pre-release forms); its last 12 hex digits are the commit's prefix.
var pseudoVersion = regexp.MustCompile(`[.-]\d{14}-([0-9a-f]{12})(\+incompatible)?$`)

// resolveVersion prefers what was stamped; else the module version go install records (a tag, or
// a pseudo-version naming the commit) and the vcs settings go build records in a checkout.
func resolveVersion(stampedVersion, stampedCommit string, info *debug.BuildInfo) VersionInfo {
	v := VersionInfo{Version: stampedVersion, Commit: stampedCommit, Go: runtime.Version()}
	if info != nil {
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
		if m := pseudoVersion.FindStringSubmatch(v.Version); v.Commit == "" && m != nil {
			v.Commit = m[1]
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	return v
}

// setVersionFlag gives cmd a --version flag that prints what `flowguard version` does.
func setVersionFlag(cmd *cobra.Command) {
	cmd.Version = CurrentVersion().String()
	cmd.SetVersionTemplate("{{.Version}}\n")
}

func newVersionCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version [-o text|json]",
		Short: "Print the flowguard version, the commit it was built from and its Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printVersion(cmd.OutOrStdout(), CurrentVersion(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	completeValues(cmd, "output", fixed("text", "json"))
	return cmd
}

func printVersion(w io.Writer, v VersionInfo, output string) error {
	switch output {
	case "text":
		_, err := fmt.Fprintln(w, v)
		return err
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	return badInput(fmt.Errorf("--output %q: must be text or json", output))
}
