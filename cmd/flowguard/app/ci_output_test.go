package app

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
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

func TestCheckSARIF(t *testing.T) {
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

	for change, wantLine := range map[string]int{shopBreaking: 1, breakingAtLine3(t): 3} {
		res := runBinary(t, "check", "-f", shopDir, "--flows", shopFlows, "--change", change, "-o", "sarif")
		res.expect(t, ExitFailed, nil, nil)
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(res.stdout))
		if err != nil {
			t.Fatalf("-o sarif is not JSON: %v\n%s", err, res.stdout)
		}
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("-o sarif does not validate against SARIF 2.1.0: %v", err)
		}
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
	want := "::error file=" + change + ",line=3,title=breaking-change::NetworkPolicy storefront/web-from-anywhere: Deleting"
	if len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("-o github =\n%s\nwant one line starting %q", res.stdout, want)
	}
}
