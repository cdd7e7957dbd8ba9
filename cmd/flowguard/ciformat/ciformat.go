package ciformat

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// Format is a CI output format.
type Format string

// The formats.
const (
	SARIF  Format = "sarif"
	JUnit  Format = "junit"
	GitHub Format = "github"
)

// Formats are every CI format, in the order help lists them.
func Formats() []Format { return []Format{SARIF, JUnit, GitHub} }

// Rule is a rule that ran.
type Rule struct {
	ID, Title, Description string
	// Severity is critical, high, medium, low or info.
	Severity string
	// Kinds are the object kinds the rule judges; an object of one of them gets a test case.
	Kinds []string
}

// Object is an object that was judged and where its document starts.
type Object struct {
	Kind, Name string
	File       string
	Line       int
}

// Finding is one thing a rule found on an object.
type Finding struct {
	Rule, Severity, Message string
	Object                  Object
}

// Skipped is a rule that did not run, and why.
type Skipped struct {
	Rule, Reason string
}

// Report is what one run judged and found.
type Report struct {
	Tool, Version, InfoURI string
	Rules                  []Rule
	Objects                []Object
	Findings               []Finding
	// Skipped rules are listed in every format: a rule that did not run found nothing.
	Skipped []Skipped
}

// Write writes r in format f.
func Write(w io.Writer, f Format, r Report) error {
	switch f {
	case SARIF:
		return writeSARIF(w, r)
	case JUnit:
		return writeJUnit(w, r)
	case GitHub:
		return writeGitHub(w, r)
	}
	return fmt.Errorf("unknown CI format %q", f)
}

// level maps a severity to a SARIF level: critical and high are errors, medium a warning,
// anything else a note.
func level(severity string) string {
	switch strings.ToLower(severity) {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
	Results     []sarifResult     `json:"results"`
}

// sarifInvocation carries the rules skipped as notifications of the run.
type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications"`
}

type sarifNotification struct {
	Level      string       `json:"level"`
	Message    sarifText    `json:"message"`
	Descriptor sarifRuleRef `json:"descriptor"`
}

type sarifRuleRef struct {
	ID string `json:"id"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string       `json:"id"`
	ShortDescription     sarifText    `json:"shortDescription"`
	FullDescription      sarifText    `json:"fullDescription"`
	Help                 sarifText    `json:"help"`
	DefaultConfiguration sarifDefault `json:"defaultConfiguration"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

// sarifLocation is where a result is: the file and line of the object's document when it was
// read from a file, and always the object itself by kind and name (a logical location), which
// is all there is for objects read from a cluster.
type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName"`
	Kind               string `json:"kind"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

func writeSARIF(w io.Writer, r Report) error {
	driver := sarifDriver{Name: r.Tool, Version: r.Version, InformationURI: r.InfoURI, Rules: []sarifRule{}}
	index := map[string]int{}
	for _, rule := range r.Rules {
		index[rule.ID] = len(driver.Rules)
		full := rule.Description
		if full == "" {
			full = rule.Title
		}
		driver.Rules = append(driver.Rules, sarifRule{
			ID: rule.ID, ShortDescription: sarifText{orID(rule.Title, rule.ID)}, FullDescription: sarifText{orID(full, rule.ID)},
			Help:                 sarifText{fmt.Sprintf("%s (severity %s): %s", rule.ID, rule.Severity, orID(full, rule.ID))},
			DefaultConfiguration: sarifDefault{level(rule.Severity)},
		})
	}
	run := sarifRun{Tool: sarifTool{driver}, Results: []sarifResult{}}
	if len(r.Skipped) > 0 {
		inv := sarifInvocation{ExecutionSuccessful: true}
		for _, sk := range r.Skipped {
			inv.Notifications = append(inv.Notifications, sarifNotification{Level: "warning", Message: sarifText{skippedText(sk)}, Descriptor: sarifRuleRef{sk.Rule}})
		}
		run.Invocations = []sarifInvocation{inv}
	}
	for _, f := range r.Findings {
		i, ok := index[f.Rule]
		if !ok {
			return fmt.Errorf("finding of rule %q: the rule is not in the report's rules", f.Rule)
		}
		res := sarifResult{RuleID: f.Rule, RuleIndex: i, Level: level(f.Severity), Message: sarifText{describe(f)}}
		// "resource" is SARIF's kind for a named thing outside the code; the fully qualified
		// name reads as kubectl names an object: Kind/namespace/name.
		loc := sarifLocation{LogicalLocations: []sarifLogical{{Name: f.Object.Name, FullyQualifiedName: f.Object.Kind + "/" + f.Object.Name, Kind: "resource"}}}
		if f.Object.File != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{uriReference(f.Object.File)}}
			if f.Object.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{f.Object.Line}
			}
		}
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{
		Schema:  "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

// uriReference turns a file path into the relative (or absolute) URI reference SARIF wants:
// "a b.yaml" is "a%20b.yaml", "a:b.yaml" is "./a:b.yaml".
func uriReference(path string) string {
	return (&url.URL{Path: filepath.ToSlash(path)}).String()
}

func orID(s, id string) string {
	if s == "" {
		return id
	}
	return s
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr,omitempty"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	ClassName string         `xml:"classname,attr"`
	File      string         `xml:"file,attr,omitempty"`
	Line      int            `xml:"line,attr,omitempty"`
	Failures  []junitFailure `xml:"failure"`
	Skipped   *junitSkipped  `xml:"skipped"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// writeJUnit writes a test suite per rule and a test case per rule and object the rule
// judges (or found something on), failing with the rule's findings on that object.
func writeJUnit(w io.Writer, r Report) error {
	out := junitSuites{Name: r.Tool}
	skipped := map[string]bool{}
	for _, sk := range r.Skipped {
		skipped[sk.Rule] = true
	}
	for _, rule := range r.Rules {
		if skipped[rule.ID] {
			continue
		}
		suite := junitSuite{Name: rule.ID}
		objects := slices.Clone(r.Objects)
		for _, f := range r.Findings {
			if f.Rule == rule.ID && !slices.Contains(objects, f.Object) {
				objects = append(objects, f.Object)
			}
		}
		for _, o := range objects {
			c := junitCase{Name: o.Kind + " " + o.Name, ClassName: rule.ID, File: o.File, Line: o.Line}
			for _, f := range r.Findings {
				if f.Rule == rule.ID && f.Object == o {
					c.Failures = append(c.Failures, junitFailure{Message: f.Message, Type: f.Severity, Text: fmt.Sprintf("%s:%d: %s", o.File, o.Line, f.Message)})
				}
			}
			if len(c.Failures) == 0 && !slices.Contains(rule.Kinds, o.Kind) {
				continue
			}
			if len(c.Failures) > 0 {
				suite.Failures++
			}
			suite.Tests++
			suite.Cases = append(suite.Cases, c)
		}
		out.Tests += suite.Tests
		out.Failures += suite.Failures
		out.Suites = append(out.Suites, suite)
	}
	for _, sk := range r.Skipped {
		out.Tests++
		out.Suites = append(out.Suites, junitSuite{Name: sk.Rule, Tests: 1, Skipped: 1, Cases: []junitCase{
			{Name: "skipped", ClassName: sk.Rule, Skipped: &junitSkipped{Message: sk.Reason}},
		}})
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeGitHub writes a workflow command per finding, which GitHub Actions shows as an
// annotation on the file and line.
func writeGitHub(w io.Writer, r Report) error {
	for _, f := range r.Findings {
		cmd := map[string]string{"error": "error", "warning": "warning", "note": "notice"}[level(f.Severity)]
		props := []string{}
		if f.Object.File != "" {
			props = append(props, "file="+escapeProperty(f.Object.File))
			if f.Object.Line > 0 {
				props = append(props, fmt.Sprintf("line=%d", f.Object.Line))
			}
		}
		props = append(props, "title="+escapeProperty(f.Rule))
		msg := describe(f)
		if _, err := fmt.Fprintf(w, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(msg)); err != nil {
			return err
		}
	}
	for _, sk := range r.Skipped {
		if _, err := fmt.Fprintf(w, "::warning title=%s::%s\n", escapeProperty(sk.Rule), escapeData(skippedText(sk))); err != nil {
			return err
		}
	}
	return nil
}

// describe is a finding's message led by its object, unless the message names it already.
func describe(f Finding) string {
	if strings.Contains(f.Message, f.Object.Name) {
		return f.Message
	}
	return f.Object.Kind + " " + f.Object.Name + ": " + f.Message
}

func skippedText(sk Skipped) string {
	return fmt.Sprintf("rule %s did not run: %s", sk.Rule, sk.Reason)
}

// escapeData and escapeProperty escape as the Actions runner's command parser expects.
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}
