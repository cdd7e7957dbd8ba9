package app

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sarifSchema is the OASIS SARIF 2.1.0 schema vendored with the formatter.
var sarifSchema = filepath.Join("..", "ciformat", "testdata", "sarif-schema-2.1.0.json")

// breakingAtLine3 writes the shop's breaking change after a comment-only document, so the
// object's document starts on line 3 of the file.
func breakingAtLine3(t *testing.T) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "change.yaml", "# a document holding no object\n---\n"+readString(t, shopBreaking))
}

// validateSARIF fails the test unless out is a SARIF 2.1.0 log by the vendored schema.
func validateSARIF(t *testing.T, out string) {
	t.Helper()
	compiler := jsonschema.NewCompiler()
	schemaFile, err := os.Open(sarifSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer schemaFile.Close()
	doc, err := jsonschema.UnmarshalJSON(schemaFile)
	if err != nil {
		t.Fatalf("read %s: %v", sarifSchema, err)
	}
	if err := compiler.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := compiler.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatalf("compile %s: %v", sarifSchema, err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("-o sarif is not JSON: %v\n%s", err, out)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("-o sarif does not validate against SARIF 2.1.0: %v", err)
	}
}

func TestCheckSARIF(t *testing.T) {
	for change, wantLine := range map[string]int{shopBreaking: 1, breakingAtLine3(t): 3} {
		res := runBinary(t, "check", "-f", shopDir, "--flows", shopFlows, "--change", change, "-o", "sarif")
		res.expect(t, ExitFailed, nil, nil)
		validateSARIF(t, res.stdout)
		var log struct {
			Runs []struct {
				Tool struct {
					Driver struct {
						Rules []struct {
							ID                   string
							DefaultConfiguration struct{ Level string }
						}
					}
				}
				Results []struct {
					RuleID    string
					Level     string
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string }
							Region           struct{ StartLine int }
						}
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(res.stdout), &log); err != nil {
			t.Fatal(err)
		}
		run := log.Runs[0]
		levels := map[string]string{}
		for _, r := range run.Tool.Driver.Rules {
			levels[r.ID] = r.DefaultConfiguration.Level
		}
		if levels["breaking-change"] != "error" {
			t.Errorf("rule levels = %v, want breaking-change (high) at error", levels)
		}
		if len(run.Results) != 1 {
			t.Fatalf("results = %+v, want the one breaking-change finding", run.Results)
		}
		r := run.Results[0]
		if r.RuleID != "breaking-change" || r.Level != "error" || len(r.Locations) != 1 {
			t.Fatalf("result = %+v, want breaking-change at error with a location", r)
		}
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != change || loc.Region.StartLine != wantLine {
			t.Errorf("location = %s:%d, want %s:%d", loc.ArtifactLocation.URI, loc.Region.StartLine, change, wantLine)
		}
	}
}

func TestCheckJUnit(t *testing.T) {
	res := runBinary(t, "check", "-f", shopDir, "--flows", shopFlows, "--change", shopBreaking, "-o", "junit")
	res.expect(t, ExitFailed, nil, nil)
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name     string `xml:"name,attr"`
				File     string `xml:"file,attr"`
				Line     int    `xml:"line,attr"`
				Failures []struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(res.stdout), &suites); err != nil {
		t.Fatalf("-o junit is not XML: %v\n%s", err, res.stdout)
	}
	if suites.Failures != 1 || suites.Tests < 2 {
		t.Errorf("tests=%d failures=%d, want one failure among several test cases", suites.Tests, suites.Failures)
	}
	failed := map[string]bool{}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Name != "NetworkPolicy storefront/web-from-anywhere" || c.File != shopBreaking || c.Line != 1 {
				t.Errorf("suite %s: test case %q at %s:%d, want the changed policy at %s:1", s.Name, c.Name, c.File, c.Line, shopBreaking)
			}
			if len(c.Failures) > 0 {
				failed[s.Name] = strings.Contains(c.Failures[0].Message, "would deny 1 observed flow")
			}
		}
	}
	if len(failed) != 1 || !failed["breaking-change"] {
		t.Errorf("failed suites = %v, want breaking-change alone, naming the denied flow", failed)
	}
}

func TestCheckGitHub(t *testing.T) {
	change := breakingAtLine3(t)
	res := runBinary(t, "check", "-f", shopDir, "--flows", shopFlows, "--change", change, "-o", "github")
	res.expect(t, ExitFailed, nil, nil)
	lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
	want := "::error file=" + change + ",line=3,title=breaking-change::Deleting NetworkPolicy storefront/web-from-anywhere would deny"
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("-o github =\n%s\nwant one line starting %q", res.stdout, want)
	}
}

// sarifLog is the part of a SARIF log the tests read.
type sarifLog struct {
	Runs []struct {
		Invocations []struct {
			Notifications []struct {
				Message    struct{ Text string }
				Descriptor struct{ ID string }
			} `json:"toolExecutionNotifications"`
		}
		Results []struct {
			RuleID    string
			Level     string
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct{ URI string }
					Region           struct{ StartLine int }
				}
				LogicalLocations []struct{ FullyQualifiedName, Kind string }
			}
		}
	}
}

// TestAuditSARIF: findings on objects read from files point at the file and line of their
// document; an object no file holds (here the namespaces, read from standard input) is located
// by kind and name alone.
func TestAuditSARIF(t *testing.T) {
	files := []string{"storefront-policies.yaml", "payments-policies.yaml", "platform-policies.yaml", "workloads.yaml"}
	args := []string{"audit", "--flows", shopFlows, "-o", "sarif", "-f", "-"}
	for _, f := range files {
		args = append(args, "-f", filepath.Join(shopDir, f))
	}
	res := runBinaryIn(t, readString(t, filepath.Join(shopDir, "namespaces.yaml")), args...)
	res.expect(t, ExitOK, nil, nil)
	validateSARIF(t, res.stdout)
	var log sarifLog
	if err := json.Unmarshal([]byte(res.stdout), &log); err != nil {
		t.Fatal(err)
	}
	type where struct {
		file   string
		line   int
		object string
	}
	got := map[string][]where{}
	for _, r := range log.Runs[0].Results {
		if len(r.Locations) != 1 || len(r.Locations[0].LogicalLocations) != 1 {
			t.Fatalf("result %s: locations %+v, want one with the object", r.RuleID, r.Locations)
		}
		loc := r.Locations[0]
		w := where{object: loc.LogicalLocations[0].FullyQualifiedName}
		if loc.PhysicalLocation != nil {
			w.file, w.line = loc.PhysicalLocation.ArtifactLocation.URI, loc.PhysicalLocation.Region.StartLine
		}
		got[r.RuleID] = append(got[r.RuleID], w)
	}
	want := map[string]where{
		"allow-all":            {filepath.Join(shopDir, "storefront-policies.yaml"), 11, "NetworkPolicy/storefront/web-from-anywhere"},
		"unprotected-workload": {filepath.Join(shopDir, "workloads.yaml"), 48, "Deployment/payments/fraud-check"},
		"missing-default-deny": {"", 0, "Namespace/payments"},
	}
	for rule, w := range want {
		if !slices.Contains(got[rule], w) {
			t.Errorf("%s results at %+v, want one at %+v", rule, got[rule], w)
		}
	}
}

// TestAuditJUnitAndGitHub: a test case per rule and object with the findings as failures, the
// rules --allow-no-flows skipped as skipped test cases and as warnings, annotations at file and
// line.
func TestAuditJUnitAndGitHub(t *testing.T) {
	empty := writeFile(t, t.TempDir(), "empty.jsonl", "")
	res := runBinary(t, "audit", "-f", shopDir, "--flows", empty, "--allow-no-flows", "-o", "junit")
	res.expect(t, ExitOK, nil, nil)
	var suites struct {
		Suites []struct {
			Name    string `xml:"name,attr"`
			Skipped int    `xml:"skipped,attr"`
			Cases   []struct {
				Name     string     `xml:"name,attr"`
				File     string     `xml:"file,attr"`
				Line     int        `xml:"line,attr"`
				Failures []struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(res.stdout), &suites); err != nil {
		t.Fatalf("-o junit is not XML: %v\n%s", err, res.stdout)
	}
	skipped := map[string]bool{}
	var allowAll int
	for _, s := range suites.Suites {
		if s.Skipped > 0 {
			skipped[s.Name] = true
		}
		for _, c := range s.Cases {
			if s.Name == "allow-all" && c.Name == "NetworkPolicy storefront/web-from-anywhere" && len(c.Failures) == 1 &&
				c.File == filepath.Join(shopDir, "storefront-policies.yaml") && c.Line == 11 {
				allowAll++
			}
		}
	}
	if allowAll != 1 {
		t.Errorf("no failed allow-all test case for storefront/web-from-anywhere at its file and line:\n%s", truncateForLog(res.stdout))
	}
	for _, rule := range []string{"denied-traffic", "unused-rule", "wider-than-observed"} {
		if !skipped[rule] {
			t.Errorf("rule %s needs flows but is not a skipped suite (skipped: %v)", rule, skipped)
		}
	}

	res = runBinary(t, "audit", "-f", shopDir, "--flows", shopFlows, "-o", "github", "--fail-on", "high")
	res.expect(t, ExitFailed, []string{
		"::error file=" + filepath.Join(shopDir, "storefront-policies.yaml") + ",line=11,title=allow-all::NetworkPolicy storefront/web-from-anywhere: ingress rule",
	}, []string{"--fail-on high: 1 findings at or above high"})
}
