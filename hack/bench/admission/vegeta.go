package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// idleConns is how many idle connections to one webhook the API server keeps: client-go's
// transport (k8s.io/client-go/transport/cache.go, idleConnsPerHost) behind every webhook call.
// kube-apiserver calls a webhook Service over HTTP/1.1 only (NextProtos http/1.1,
// k8s.io/apiserver/pkg/util/webhook/client.go), so a request that finds no idle connection
// opens a new one, and connections past this many are closed once idle.
const idleConns = 25

// step is one load step: a fixed rate per second, or saturation (rate 0) with a fixed number
// of workers.
type step struct {
	rate     int
	workers  int
	duration time.Duration
	// phase names the overload step's parts ("overload", "recovery"), empty for the others.
	phase string
}

func (s step) String() string {
	if s.rate == 0 {
		return fmt.Sprintf("saturation (%d workers)", s.workers)
	}
	return fmt.Sprintf("%d/s", s.rate)
}

// file names the step in file names.
func (s step) file() string {
	name := fmt.Sprintf("rate-%d", s.rate)
	if s.rate == 0 {
		name = fmt.Sprintf("saturation-%d", s.workers)
	}
	if s.phase != "" {
		name = s.phase + "-" + name
	}
	return name
}

// outcome is what one step measured against one server.
type outcome struct {
	sent, ok int
	// non2xx are answers with another status; timeouts requests given up at the client
	// timeout; transport other failures; wrong answers that are not the expected verdict (or no
	// AdmissionReview at all); unchecked answers admitted without a decision.
	non2xx, timeouts, transport, wrong, unchecked int
	// uncheckedWrong are the wrong answers that carry the degraded answer's warning: a refusal
	// admitted unchecked, the answer flowguard gives by design when it cannot decide in time.
	uncheckedWrong int
	firstError     string
	achieved       float64
	p50, p99, max  time.Duration
	cpuPerReview   time.Duration
	// all is every request's start and latency (a failed request's latency is how long it
	// took to fail), for the overload step's recovery time.
	all []sample
}

type sample struct {
	start   time.Time
	latency time.Duration
}

// result is one line of `vegeta encode --to json`.
type result struct {
	Code      int       `json:"code"`
	Timestamp time.Time `json:"timestamp"`
	Latency   int64     `json:"latency"`
	Error     string    `json:"error"`
	Body      []byte    `json:"body"`
	URL       string    `json:"url"`
}

// attack runs vegeta against srv with the reviews in turn (each target's URL carries its index
// as a query parameter, which both servers ignore) and checks every answer. gatekeeper says
// which verdicts apply: its constraint admits every review.
func attack(ctx context.Context, o options, srv *server, reviews []review, st step, gatekeeper bool, caFile string) (outcome, error) {
	var out outcome
	dir := filepath.Join(o.dir, "vegeta")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return out, fmt.Errorf("create vegeta folder: %w", err)
	}
	var targets bytes.Buffer
	enc := json.NewEncoder(&targets)
	for i, r := range reviews {
		if err := enc.Encode(map[string]any{"method": "POST", "url": fmt.Sprintf("%s?review=%d", srv.url, i), "body": r.body,
			"header": map[string][]string{"Content-Type": {"application/json"}}}); err != nil {
			return out, fmt.Errorf("encode vegeta target: %w", err)
		}
	}
	targetsFile := filepath.Join(dir, "targets.json")
	if err := os.WriteFile(targetsFile, targets.Bytes(), 0o644); err != nil {
		return out, fmt.Errorf("write vegeta targets: %w", err)
	}
	base := strings.Fields(srv.name)[0] + "-" + st.file()
	resultsFile := filepath.Join(dir, base+".bin")
	args := []string{"attack", "-format=json", "-targets=" + targetsFile, "-root-certs=" + caFile,
		"-keepalive=true", "-http2=false", "-connections=" + strconv.Itoa(idleConns), "-timeout=" + o.timeout.String(), "-duration=" + st.duration.String(),
		"-rate=" + strconv.Itoa(st.rate), "-output=" + resultsFile}
	if st.rate == 0 {
		args = append(args, "-max-workers="+strconv.Itoa(st.workers), "-workers="+strconv.Itoa(st.workers))
	}
	before, err := srv.cpu()
	if err != nil {
		return out, err
	}
	profiled := srv.profile(ctx, st.duration, filepath.Join(o.dir, "profiles", base+".cpu.pprof"))
	if b, err := exec.CommandContext(ctx, o.vegeta, args...).CombinedOutput(); err != nil {
		return out, fmt.Errorf("vegeta attack: %w: %s", err, b)
	}
	if err := <-profiled; err != nil {
		return out, err
	}
	after, err := srv.cpu()
	if err != nil {
		return out, err
	}
	encode := exec.CommandContext(ctx, o.vegeta, "encode", "--to=json", resultsFile)
	stdout, err := encode.StdoutPipe()
	if err != nil {
		return out, fmt.Errorf("vegeta encode: %w", err)
	}
	if err := encode.Start(); err != nil {
		return out, fmt.Errorf("vegeta encode: %w", err)
	}
	var lat []time.Duration
	var first, last time.Time
	sc := bufio.NewScanner(stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return out, fmt.Errorf("vegeta result: %w", err)
		}
		out.sent++
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if end := r.Timestamp.Add(time.Duration(r.Latency)); end.After(last) {
			last = end
		}
		out.judge(r, reviews, gatekeeper)
		if r.Code == 200 {
			lat = append(lat, time.Duration(r.Latency))
		}
		out.all = append(out.all, sample{start: r.Timestamp, latency: time.Duration(r.Latency)})
	}
	if err := encode.Wait(); err != nil {
		return out, fmt.Errorf("vegeta encode: %w", err)
	}
	if out.ok > 0 {
		out.achieved = float64(out.ok) / last.Sub(first).Seconds()
		out.cpuPerReview = (after - before) / time.Duration(out.ok)
	}
	slices.Sort(lat)
	if n := len(lat); n > 0 {
		out.p50, out.p99, out.max = lat[n/2], lat[min(n-1, n*99/100)], lat[n-1]
	}
	return out, srv.alive()
}

// judge counts one vegeta result.
func (out *outcome) judge(r result, reviews []review, gatekeeper bool) {
	fail := func(counter *int, msg string) {
		*counter++
		if out.firstError == "" {
			out.firstError = msg
		}
	}
	switch {
	case r.Code == 0 && isTimeout(r.Error):
		fail(&out.timeouts, r.Error)
		return
	case r.Code == 0:
		fail(&out.transport, r.Error)
		return
	case r.Code != 200:
		fail(&out.non2xx, fmt.Sprintf("HTTP %d: %.200s", r.Code, r.Body))
		return
	}
	u, err := url.Parse(r.URL)
	i, err2 := strconv.Atoi(u.Query().Get("review"))
	if err != nil || err2 != nil || i < 0 || i >= len(reviews) {
		fail(&out.wrong, "answer to an unknown target "+r.URL)
		return
	}
	rv := reviews[i]
	unchecked, err := rv.verdict(r.Body, rv.allowed || gatekeeper)
	if unchecked {
		out.unchecked++
	}
	if err != nil && unchecked {
		out.uncheckedWrong++
	}
	if err != nil {
		fail(&out.wrong, err.Error())
		return
	}
	out.ok++
}

func isTimeout(msg string) bool {
	return strings.Contains(msg, "Client.Timeout") || strings.Contains(msg, "deadline exceeded")
}
