package replica

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flowguard/flowguard/audit"
	"github.com/flowguard/flowguard/flows"
	"github.com/flowguard/flowguard/flows/goldmane"
	"github.com/flowguard/flowguard/webhook"
)

// describing records the names of the metrics registered through it.
type describing struct{ names map[string]bool }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (d *describing) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 16)
	go func() { c.Describe(ch); close(ch) }()
	for desc := range ch {
		if m := fqName.FindStringSubmatch(desc.String()); m != nil {
			d.names[m[1]] = true
		}
	}
	return nil
}
func (d *describing) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = d.Register(c)
	}
}
func (d *describing) Unregister(prometheus.Collector) bool { return false }

func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../docs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOperationsDocListsEveryMetric fails when serve registers a metric docs/operations.md does
// not list.
func TestOperationsDocListsEveryMetric(t *testing.T) {
	reg := &describing{names: map[string]bool{}}
	g, err := flows.NewGraph(flows.GraphOptions{})
	if err != nil {
		t.Fatal(err)
	}
	noAge := func() (time.Time, bool) { return time.Time{}, false }
	_, errW := webhook.NewMetrics(reg, time.Now, noAge)
	_, errA := audit.NewMetrics(reg)
	_, errF := flows.NewMetrics(reg)
	errG := flows.RegisterGraphMetrics(reg, g)
	_, errT := newTrafficMetrics(reg, func() (goldmane.Stats, bool) { return goldmane.Stats{}, false })
	_, _, errL := newLeaseMetrics(reg)
	for _, err := range []error{errW, errA, errF, errG, errT, errL} {
		if err != nil {
			t.Fatal(err)
		}
	}
	doc := readDoc(t, "operations.md")
	if len(reg.names) < 30 {
		t.Fatalf("only %d metrics seen: %v", len(reg.names), reg.names)
	}
	for name := range reg.names {
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("docs/operations.md does not list %s", name)
		}
	}
}
