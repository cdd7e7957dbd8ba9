package netpol

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScenarios runs every folder under testdata/scenarios: its manifests in, its
// connectivity.txt (the exact connectivity map) and verdicts.txt (questions and answers,
// with what decided each direction) out.
func TestScenarios(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			c, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			e := NewEngine(c)
			want, err := os.ReadFile(filepath.Join(dir, "connectivity.txt"))
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, edge := range e.Connectivity() {
				got.WriteString(edge.String() + "\n")
			}
			if got.String() != string(want) {
				t.Errorf("connectivity:\n%s\nwant:\n%s", got.String(), want)
			}
			checkVerdicts(t, c, e, filepath.Join(dir, "verdicts.txt"))
		})
	}
}

// checkVerdicts reads lines "FROM TO PORT allowed|denied [pending] [egress=X] [ingress=X]",
// where X is a hit summary with ':' for spaces ("knp:shop/allow#0:Allow").
func checkVerdicts(t *testing.T, c *Cluster, e *Engine, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			t.Fatalf("%s:%d: want FROM TO PORT allowed|denied", path, n)
		}
		src, err := c.ParsePeer(fields[0])
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		dst, err := c.ParsePeer(fields[1])
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		pkt, err := e.ParsePort(fields[2], dst)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		explain := e.Explain
		for _, f := range fields[4:] {
			if f == "pending" {
				explain = e.ExplainPending
			}
		}
		v := explain(src, dst, pkt)
		if got := map[bool]string{true: "allowed", false: "denied"}[v.Allowed]; got != fields[3] {
			t.Errorf("%s:%d: %s: got %s\n%s", path, n, line, got, v)
		}
		for _, f := range fields[4:] {
			dir, want, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			h := v.Ingress.Hit
			if dir == "egress" {
				h = v.Egress.Hit
			}
			if got := strings.ReplaceAll(summary(h), " ", ":"); got != want {
				t.Errorf("%s:%d: %s decided by %s, want %s\n%s", path, n, dir, got, want, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}
