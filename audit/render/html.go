package render

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/flowguard/flowguard/audit"
)

//go:embed html.tmpl
var htmlSource string

// htmlMaxFlows caps the flows shown per finding on the page.
const htmlMaxFlows = 20

type htmlPage struct {
	Subject     string
	Summary     audit.Summary
	EvaluatedAt string
	Window      string
	Groups      []htmlGroup
	Picture     *svgPicture
	EdgeClasses []string
}

type htmlGroup struct {
	Severity string
	Findings []htmlFinding
}

type htmlFinding struct {
	audit.Finding
	Flows     []audit.Flow
	FlowsMore int
	Facts     [][2]string
	Policy    string
}

// WriteHTML prints one self-contained page: the summary, a picture of namespaces and workloads
// with allowed and observed traffic (when in.Picture is set), and the findings by severity.
// The page loads nothing: styles are inline and there is no script (the picture's toggle is a
// checkbox and a style rule).
func WriteHTML(w io.Writer, in Input) error {
	tmpl, err := template.New("page").Funcs(template.FuncMap{
		"flowLine": audit.FlowLine,
		"port":     audit.PortText,
		"stamp":    stampShort,
		"lower":    strings.ToLower,
		"kindText": func(class string) string { return kindText[class] },
		// The legend lays its edge samples out in a row, 250 units apart.
		"legendX":  func(i int) int { return 250 * i },
		"legendX2": func(i int) int { return 250*i + 34 },
		"legendT":  func(i int) int { return 250*i + 42 },
	}).Parse(htmlSource)
	if err != nil {
		return fmt.Errorf("parse html template: %w", err)
	}
	s := in.Result.Summarize()
	page := htmlPage{Subject: in.Subject, Summary: s, EvaluatedAt: stamp(s.EvaluatedAt), Picture: layout(in.Picture),
		EdgeClasses: []string{"denied", "breaking", "used", "unused"}}
	if page.Subject == "" {
		page.Subject = "cluster"
	}
	if s.Window != nil {
		page.Window = stamp(s.Window.Start) + " to " + stamp(s.Window.End)
	}
	fs := in.Result.Findings
	for i := 0; i < len(fs); {
		g := htmlGroup{Severity: string(fs[i].Severity)}
		for ; i < len(fs) && string(fs[i].Severity) == g.Severity; i++ {
			g.Findings = append(g.Findings, toHTMLFinding(fs[i]))
		}
		page.Groups = append(page.Groups, g)
	}
	if err := tmpl.Execute(w, page); err != nil {
		return fmt.Errorf("write audit result as html: %w", err)
	}
	return nil
}

func toHTMLFinding(f audit.Finding) htmlFinding {
	h := htmlFinding{Finding: f}
	h.Flows = f.Evidence.Flows
	if len(h.Flows) > htmlMaxFlows {
		h.Flows = h.Flows[:htmlMaxFlows]
	}
	h.FlowsMore = max(f.Evidence.FlowsTotal, len(f.Evidence.Flows)) - len(h.Flows)
	for _, k := range slices.Sorted(maps.Keys(f.Evidence.Facts)) {
		h.Facts = append(h.Facts, [2]string{k, audit.FactText(f.Evidence.Facts[k])})
	}
	if f.Fix != nil && f.Fix.Policy != nil {
		h.Policy = strings.Join(audit.PolicyLines(f.Fix.Policy), "\n")
	}
	return h
}

func stampShort(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}
