package charts

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/strvals"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/api/v1alpha1"
)

// installDoc is the install guide whose commands this file checks.
const installDoc = "../docs/install.md"

// docBlock is one fenced code block of a Markdown file.
type docBlock struct {
	lang string
	line int // of the opening fence
	text string
}

func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{lang: strings.TrimPrefix(line, "```"), line: n}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: code block never closed", path, cur.line)
	}
	return blocks
}

// helmCommand is a `helm install|upgrade|template` line of the guide.
type helmCommand struct {
	verb, release, chart, namespace string
	values                          map[string]any
}

func parseHelm(line string) (helmCommand, error) {
	line, _, _ = strings.Cut(line, " > ") // the output's destination
	args := strings.Fields(line)[1:]
	cmd := helmCommand{values: map[string]any{}}
	var positional []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--namespace", "-n", "--set":
			if i+1 == len(args) {
				return cmd, fmt.Errorf("%s without a value", a)
			}
			i++
			if a == "--set" {
				if err := strvals.ParseInto(args[i], cmd.values); err != nil {
					return cmd, fmt.Errorf("--set %s: %w", args[i], err)
				}
			} else {
				cmd.namespace = args[i]
			}
		case "--create-namespace", "--reuse-values":
		default:
			if strings.HasPrefix(a, "-") {
				return cmd, fmt.Errorf("flag %s: the test does not know it; teach parseHelm", a)
			}
			positional = append(positional, a)
		}
	}
	if len(positional) < 1 {
		return cmd, fmt.Errorf("no subcommand")
	}
	cmd.verb = positional[0]
	switch {
	case cmd.verb == "uninstall" && len(positional) == 2:
		cmd.release = positional[1]
	case slices.Contains([]string{"install", "upgrade", "template"}, cmd.verb) && len(positional) == 3:
		cmd.release, cmd.chart = positional[1], positional[2]
	default:
		return cmd, fmt.Errorf("want install|upgrade|template RELEASE CHART or uninstall RELEASE, got %v", positional)
	}
	return cmd, nil
}

// TestInstallDocCommands holds docs/install.md to the chart and config/: each helm command's
// values pass the chart's schema and render, for release flowguard in flowguard-system; each
// kustomize directory builds; each file or folder it applies exists; each YAML document decodes
// strictly into its Go type.
func TestInstallDocCommands(t *testing.T) {
	root := ".."
	checked := map[string]int{}
	for _, b := range docBlocks(t, installDoc) {
		at := fmt.Sprintf("%s:%d", installDoc, b.line)
		switch b.lang {
		case "yaml":
			decodeDocYAML(t, at, b.text)
			checked["yaml"]++
		case "sh":
			lines := strings.Split(b.text, "\n")
			for i := 0; i < len(lines); i++ {
				line := strings.TrimSpace(lines[i])
				if _, heredoc, ok := strings.Cut(line, "<<'"); ok {
					end, _, _ := strings.Cut(heredoc, "'")
					var body []string
					for i++; i < len(lines) && lines[i] != end; i++ {
						body = append(body, lines[i])
					}
					decodeDocYAML(t, at, strings.Join(body, "\n"))
					checked["yaml"]++
				}
				fields := strings.Fields(line)
				if len(fields) == 0 {
					continue
				}
				switch fields[0] {
				case "helm":
					checkHelmLine(t, at, line)
					checked["helm"]++
				case "kubectl":
					checkKubectlLine(t, at, root, fields)
					checked["kubectl"]++
				}
			}
		}
	}
	// The guide's shape: if a section's commands vanish, this fails rather than checking less.
	for kind, atLeast := range map[string]int{"helm": 9, "kubectl": 15, "yaml": 2} {
		if checked[kind] < atLeast {
			t.Errorf("checked %d %s commands or documents in %s, want at least %d", checked[kind], kind, installDoc, atLeast)
		}
	}
}

func checkHelmLine(t *testing.T, at, line string) {
	t.Helper()
	cmd, err := parseHelm(line)
	if err != nil {
		t.Errorf("%s: %s: %v", at, line, err)
		return
	}
	if cmd.release != "flowguard" || cmd.namespace != "flowguard-system" {
		t.Errorf("%s: %s: release %q in namespace %q, want flowguard in flowguard-system as the rest of the guide", at, line, cmd.release, cmd.namespace)
	}
	if cmd.verb == "uninstall" {
		return
	}
	if cmd.chart != "charts/flowguard" {
		t.Errorf("%s: %s: chart %q, want charts/flowguard", at, line, cmd.chart)
		return
	}
	if _, err := render(t, cmd.values); err != nil {
		t.Errorf("%s: %s: the chart refuses these values: %v", at, line, err)
	}
}

func checkKubectlLine(t *testing.T, at, root string, fields []string) {
	t.Helper()
	for i, f := range fields[:len(fields)-1] {
		target := fields[i+1]
		switch f {
		case "-k":
			kustomizeObjects(t, filepath.Join(root, target))
		case "-f":
			if target == "-" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, target)); err != nil {
				t.Errorf("%s: kubectl %s: %v", at, strings.Join(fields[1:], " "), err)
			}
		}
	}
}

// decodeDocYAML decodes each document of text strictly into the Go type of its kind.
func decodeDocYAML(t *testing.T, at, text string) {
	t.Helper()
	for doc := range strings.SplitSeq(text, "\n---") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Errorf("%s: %v", at, err)
			continue
		}
		var obj any
		switch meta.Kind {
		case "NetworkPolicy":
			obj = &networkingv1.NetworkPolicy{}
		case "AuditSchedule":
			obj = &v1alpha1.AuditSchedule{}
		default:
			t.Errorf("%s: kind %q: the test has no type for it; add one", at, meta.Kind)
			continue
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Errorf("%s: %s does not decode: %v", at, meta.Kind, err)
		}
	}
}
