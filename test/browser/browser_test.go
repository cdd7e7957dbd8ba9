package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/flowguard/flowguard/cmd/flowguard/app"
	"github.com/flowguard/flowguard/test/synth"
)

// chromium finds the browser: $CHROMIUM, else Debian's chromium on PATH.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: install Debian's chromium package (apt-get install chromium), or set CHROMIUM to a Chromium binary")
	return ""
}

// shopReport is the html report `make example` would print, as flowguard audit writes it.
func shopReport(t *testing.T) string {
	t.Helper()
	shop := filepath.Join("..", "..", "examples", "shop")
	return audit(t, "shop.html", "-f", shop, "--flows", filepath.Join(shop, "flows.jsonl"))
}

// synthReport is the report of a generated cluster of 20 namespaces of 10 workloads each,
// with a default deny per namespace, policies for most workloads and 4,000 flow records.
func synthReport(t *testing.T) string {
	t.Helper()
	c := synth.Generate(synth.Config{Seed: 1, Namespaces: 20, WorkloadsPerNamespace: 10, Replicas: 1,
		DefaultDeny: true, KubernetesPolicyWorkloads: 8, CalicoNamespaces: 4})
	dir := t.TempDir()
	var manifests, flowLog bytes.Buffer
	if err := c.WriteYAML(&manifests); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteFlowLog(&flowLog, c.Flows(4000, 1), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"cluster.yaml": manifests.Bytes(), "flows.jsonl": flowLog.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return audit(t, "synth.html", "-f", filepath.Join(dir, "cluster.yaml"), "--flows", filepath.Join(dir, "flows.jsonl"))
}

func audit(t *testing.T, name string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := app.Execute(append([]string{"audit", "-o", "html"}, args...), &out, &errOut); code != app.ExitOK {
		t.Fatalf("flowguard audit %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// box is a rectangle of the page as the DOM measures it (getBoundingClientRect).
type box struct {
	Name       string
	X, Y, W, H float64
}

func (a box) overlaps(b box) bool {
	const slack = 0.5 // sub-pixel rounding of glyph boxes is not an overlap
	return a.X+a.W > b.X+slack && b.X+b.W > a.X+slack && a.Y+a.H > b.Y+slack && b.Y+b.H > a.Y+slack
}

// pictureState is what the page's picture looks like to a reader right now.
type pictureState struct {
	Labels []box // every text of the picture: namespace names and workload labels
	Edges  []box // every edge drawn (display not none)
	// Marks are the classes of what the picture draws (bands, nodes, edges); Legend those the
	// legend shows.
	Marks, Legend []string
	Unused        int // edges of traffic allowed but never observed that are shown
	Rows          int // rows of the traffic table that are shown
}

const measure = `(() => {
	const rect = (el, name) => { const r = el.getBoundingClientRect(); return {Name: name, X: r.x, Y: r.y, W: r.width, H: r.height}; };
	const shown = el => getComputedStyle(el).display !== 'none';
	const map = document.querySelector('svg.map');
	const marks = new Set(), legend = new Set();
	const mark = (set, el) => set.add(el.tagName + '.' + [...el.classList].sort().join('.'));
	map.querySelectorAll('rect.band, circle, path.edge').forEach(el => mark(marks, el));
	document.querySelectorAll('svg.legend rect.band, svg.legend circle, svg.legend path.edge').forEach(el => mark(legend, el));
	const edges = [...map.querySelectorAll('path.edge')].filter(shown);
	return {
		Labels: [...map.querySelectorAll('text')].map(el => rect(el, el.textContent)),
		Edges: edges.map(el => rect(el, el.querySelector('title').textContent)),
		Marks: [...marks].sort(), Legend: [...legend].sort(),
		Unused: edges.filter(el => el.classList.contains('unused')).length,
		Rows: [...document.querySelectorAll('.flows tr')].filter(shown).length - 1,
	};
})()`

// check reports every overlap of two labels, every label an edge's box crosses, and every mark
// missing from the legend.
func (s pictureState) check(t *testing.T) {
	t.Helper()
	if len(s.Labels) == 0 || len(s.Edges) == 0 {
		t.Fatalf("the picture has %d labels and %d edges; want both", len(s.Labels), len(s.Edges))
	}
	for i, a := range s.Labels {
		for _, b := range s.Labels[i+1:] {
			if a.overlaps(b) {
				t.Errorf("labels overlap: %+v and %+v", a, b)
			}
		}
		for _, e := range s.Edges {
			if a.overlaps(e) {
				t.Errorf("label %+v is crossed by edge %+v", a, e)
			}
		}
	}
	for _, m := range s.Marks {
		if !strings.Contains(strings.Join(s.Legend, " "), m) {
			t.Errorf("the picture draws %s, which the legend lacks (legend: %v)", m, s.Legend)
		}
	}
	if s.Rows != len(s.Edges) {
		t.Errorf("the traffic table shows %d rows for %d edges drawn", s.Rows, len(s.Edges))
	}
}

// TestReportInBrowser opens the report of the shop and of a 200-workload cluster in headless
// Chromium, checks the picture as drawn, and saves screenshots under the test's artifact
// folder (go test -artifacts keeps them; make screenshots does).
func TestReportInBrowser(t *testing.T) {
	browser := chromium(t)
	alloc, cancel := chromedp.NewExecAllocator(t.Context(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000))...)
	defer cancel()
	reports := map[string]func(*testing.T) string{"shop": shopReport, "synth-200": synthReport}
	for name, report := range reports {
		t.Run(name, func(t *testing.T) {
			path := report(t)
			var mu sync.Mutex
			var problems []string
			problem := func(s string) {
				mu.Lock()
				defer mu.Unlock()
				problems = append(problems, s)
			}
			ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(func(ev any) {
				switch ev := ev.(type) {
				case *runtime.EventConsoleAPICalled:
					if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
						var args []string
						for _, a := range ev.Args {
							args = append(args, string(a.Value))
						}
						problem(fmt.Sprintf("console %s: %s", ev.Type, strings.Join(args, " ")))
					}
				case *runtime.EventExceptionThrown:
					problem(fmt.Sprintf("exception: %s", ev.ExceptionDetails.Text))
				case *cdplog.EventEntryAdded:
					if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
						problem(fmt.Sprintf("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
					}
				case *network.EventRequestWillBeSent:
					if u := ev.Request.URL; !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
						problem("request leaves the file: " + u)
					}
				}
			}))
			defer cancel()
			if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
				t.Fatalf("start %s: %v", browser, err)
			}
			if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitVisible(chromedp.CSS("svg.map"))); err != nil {
				t.Fatalf("open %s: %v", path, err)
			}
			before, err := chromedp.Run(ctx, chromedp.Evaluate[pictureState](measure))
			if err != nil {
				t.Fatalf("measure the picture: %v", err)
			}
			t.Logf("%d labels, %d edges drawn", len(before.Labels), len(before.Edges))
			before.check(t)
			if before.Unused != 0 {
				t.Errorf("%d edges of traffic allowed but never observed are shown before the toggle; want none", before.Unused)
			}
			save(t, ctx, name+".png", chromedp.FullScreenshot(100))
			save(t, ctx, name+"-traffic.png", chromedp.Screenshot(chromedp.CSS("#traffic")))

			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#show-unused"))); err != nil {
				t.Fatal(err)
			}
			after, err := chromedp.Run(ctx, chromedp.Evaluate[pictureState](measure))
			if err != nil {
				t.Fatal(err)
			}
			after.check(t)
			wantUnused := strings.Count(readFile(t, path), `url(#arrow-unused)"><title>`)
			if after.Unused != wantUnused || len(after.Edges) != len(before.Edges)+wantUnused {
				t.Errorf("after the toggle %d unused edges of %d shown, %d edges in all (before %d)", after.Unused, wantUnused, len(after.Edges), len(before.Edges))
			}
			if name == "shop" && wantUnused == 0 {
				t.Error("the shop's report has no edge of traffic allowed but never observed; the toggle is untested")
			}
			save(t, ctx, name+"-with-unused.png", chromedp.Screenshot(chromedp.CSS("#traffic")))
			mu.Lock()
			defer mu.Unlock()
			if len(problems) > 0 {
				t.Errorf("the page reported problems:\n%s", strings.Join(problems, "\n"))
			}
		})
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// save writes a screenshot into the test's artifact folder.
func save(t *testing.T, ctx context.Context, name string, shot chromedp.Action[[]byte]) {
	t.Helper()
	// A screenshot that cannot be taken must fail the test, not hang it.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, shot)
	if err == nil && len(png) == 0 {
		err = errors.New("empty image")
	}
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
