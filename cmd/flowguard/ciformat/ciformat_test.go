package ciformat

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var report = Report{
	Tool: "flowguard", Version: "dev",
	Rules: []Rule{
		{ID: "allow-all", Title: "Allows everything", Severity: "critical", Kinds: []string{"NetworkPolicy"}},
		{ID: "unused-rule", Title: "Unused rule", Severity: "medium", Kinds: []string{"NetworkPolicy"}},
		{ID: "missing-default-deny", Severity: "low", Kinds: []string{"Namespace"}},
	},
	Objects: []Object{{Kind: "NetworkPolicy", Name: "shop/web", File: "a, b:c.yaml", Line: 7}},
	Findings: []Finding{
		{Rule: "allow-all", Severity: "critical", Message: "allows 100%\nof traffic", Object: Object{Kind: "NetworkPolicy", Name: "shop/web", File: "a, b:c.yaml", Line: 7}},
		{Rule: "unused-rule", Severity: "medium", Message: "rule 0 unused", Object: Object{Kind: "NetworkPolicy", Name: "shop/web", File: "a, b:c.yaml", Line: 7}},
		{Rule: "missing-default-deny", Severity: "info", Message: "no default deny", Object: Object{Kind: "Namespace", Name: "shop"}},
		{Rule: "unused-rule", Severity: "medium", Message: "NetworkPolicy shop/api: rule 1 unused", Object: Object{Kind: "NetworkPolicy", Name: "shop/api"}},
	},
	Skipped: []Skipped{{Rule: "breaking-change", Reason: "no observed traffic"}},
}

func TestGitHubEscapesAndLevels(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, GitHub, report); err != nil {
		t.Fatal(err)
	}
	want := "::error file=a%2C b%3Ac.yaml,line=7,title=allow-all::NetworkPolicy shop/web: allows 100%25%0Aof traffic\n" +
		"::warning file=a%2C b%3Ac.yaml,line=7,title=unused-rule::NetworkPolicy shop/web: rule 0 unused\n" +
		"::notice title=missing-default-deny::Namespace shop: no default deny\n" +
		"::warning title=unused-rule::NetworkPolicy shop/api: rule 1 unused\n" +
		"::warning title=breaking-change::rule breaking-change did not run: no observed traffic\n"
	if b.String() != want {
		t.Errorf("github =\n%s\nwant\n%s", b.String(), want)
	}
}

// TestSARIFSchemaBites checks that the vendored schema rejects a log the formatter must never
// write, so the check of its output is worth something.
func TestSARIFSchemaBites(t *testing.T) {
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, SARIF, report); err != nil {
		t.Fatal(err)
	}
	valid := b.String()
	for name, text := range map[string]string{
		"as written":          valid,
		"a level SARIF lacks": strings.Replace(valid, `"level": "note"`, `"level": "info"`, 1),
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		err = schema.Validate(inst)
		if (err == nil) != (name == "as written") {
			t.Errorf("%s: validation error = %v", name, err)
		}
	}
	if !strings.Contains(valid, `"uri": "./a,%20b:c.yaml"`) {
		t.Errorf("the file is not written as a URI reference:\n%s", valid)
	}
	for _, w := range []string{
		// an object read from a cluster, by kind and name alone
		`"logicalLocations": [
                {
                  "name": "shop",
                  "fullyQualifiedName": "Namespace/shop",
                  "kind": "resource"
                }`,
		`"descriptor": {
                "id": "breaking-change"
              }`,
	} {
		if !strings.Contains(valid, w) {
			t.Errorf("sarif lacks %s:\n%s", w, valid)
		}
	}
	var log struct {
		Runs []struct{ Results []json.RawMessage }
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil || len(log.Runs[0].Results) != 4 {
		t.Errorf("results: %v, %v", log, err)
	}
}

func TestUnknownRuleIsAnError(t *testing.T) {
	r := report
	r.Findings = []Finding{{Rule: "nope", Severity: "high"}}
	if err := Write(&bytes.Buffer{}, SARIF, r); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("err = %v, want one naming the unknown rule", err)
	}
}
