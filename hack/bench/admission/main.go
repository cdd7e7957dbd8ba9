package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/flowguard/flowguard/test/cluster"
	"github.com/flowguard/flowguard/webhook/webhooktest"
)

type options struct {
	root, dir, assets, flowguard, vegeta, gatekeeper, pprof string
	size                                                    string
	flows                                                   int
	rates                                                   []int
	workers                                                 int
	duration, timeout, overload                             time.Duration
	out                                                     io.Writer
}

func main() {
	o := options{out: os.Stdout}
	flag.StringVar(&o.dir, "dir", "bin/bench/admission", "working folder: kubeconfig, certificates, flow log, server logs, vegeta results")
	flag.StringVar(&o.assets, "assets", os.Getenv(cluster.AssetsEnv), "folder of etcd, kube-apiserver and kubectl")
	flag.StringVar(&o.flowguard, "flowguard", "bin/flowguard", "the flowguard binary")
	flag.StringVar(&o.vegeta, "vegeta", "", "the vegeta binary")
	flag.StringVar(&o.gatekeeper, "gatekeeper", "", "the Gatekeeper v3.23.1 binary; empty measures flowguard alone")
	flag.StringVar(&o.pprof, "pprof", "", "serve flowguard's pprof endpoints on this address, e.g. 127.0.0.1:6060")
	flag.StringVar(&o.size, "size", "shop", "cluster state: shop (examples/shop and its flow log) or 10k (test/synth: 10,000 pods, 2,000 policies)")
	flag.IntVar(&o.flows, "flows", 100_000, "flows in the 10k cluster's flow log (about 1.1 records each)")
	rates := flag.String("rates", "250,500,1000,2000", "fixed rates per second, comma-separated")
	flag.IntVar(&o.workers, "workers", 32, "workers of the saturation step (0 skips it)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "length of each step")
	flag.DurationVar(&o.timeout, "timeout", 3*time.Second, "client timeout, the chart's webhook timeoutSeconds")
	flag.DurationVar(&o.overload, "overload", 0, "after the steps, offer each server three times its saturation rate for this long, then the first fixed rate for -duration (0 skips it)")
	flag.Parse()
	for _, r := range strings.Split(*rates, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		n, err := strconv.Atoi(r)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench-admission: -rates: %q is not a positive rate\n", r)
			os.Exit(2)
		}
		o.rates = append(o.rates, n)
	}
	if o.overload > 0 && (o.workers == 0 || len(o.rates) == 0) {
		fmt.Fprintln(os.Stderr, "bench-admission: -overload needs the saturation step (-workers) and a fixed rate (-rates) to recover at")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-admission:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (err error) {
	root, err := cluster.ModuleRoot()
	if err != nil {
		return err
	}
	o.root = root
	for _, p := range []*string{&o.dir, &o.assets, &o.flowguard, &o.vegeta, &o.gatekeeper} {
		if *p != "" {
			if *p, err = filepath.Abs(*p); err != nil {
				return fmt.Errorf("resolve path: %w", err)
			}
		}
	}
	if o.vegeta == "" {
		return errors.New("-vegeta is required (make bench-admission builds it)")
	}
	if err := os.RemoveAll(o.dir); err != nil {
		return fmt.Errorf("clear %s: %w", o.dir, err)
	}
	if err := os.MkdirAll(filepath.Join(o.dir, "certs"), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", o.dir, err)
	}
	crdDirs := cluster.DefaultCRDDirs(root)
	if o.gatekeeper != "" {
		gk := filepath.Join(o.dir, "gatekeeper-crds")
		if err := gatekeeperCRDs(gk); err != nil {
			return err
		}
		crdDirs = append(crdDirs, gk)
	}
	say := func(format string, args ...any) { fmt.Fprintf(o.out, "==> "+format+"\n", args...) }
	say("Starting the control plane (%s)", o.assets)
	c, err := cluster.Start(cluster.Options{AssetsDir: o.assets, CRDDirs: crdDirs})
	if err != nil {
		return err
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			err = errors.Join(err, s.stop())
		}
		err = errors.Join(err, c.Stop())
	}()

	say("Applying cluster state %q", o.size)
	flowLog := filepath.Join(o.dir, "flows.jsonl")
	records, err := applyState(ctx, o, c, flowLog)
	if err != nil {
		return err
	}
	certDir := filepath.Join(o.dir, "certs")
	ca, err := webhooktest.NewCA("bench-admission", time.Now())
	if err != nil {
		return err
	}
	if _, err := ca.WriteServingCert(certDir, time.Now(), "127.0.0.1"); err != nil {
		return err
	}
	caFile := filepath.Join(o.dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		return fmt.Errorf("write CA: %w", err)
	}

	say("Starting flowguard serve as the chart runs it; it reads %d flow records", records)
	fg, err := startFlowguard(ctx, o, c.Kubeconfig, certDir, flowLog, records)
	if fg != nil {
		servers = append(servers, fg)
	}
	if err != nil {
		return err
	}
	reviews, err := buildReviews(ctx, c, o.size)
	if err != nil {
		return err
	}
	say("Waiting until flowguard gives every review its verdict (the traffic it learned is synced through ObservedTraffic)")
	if err := warmUp(ctx, fg, reviews, caFile, false, o.out); err != nil {
		return err
	}
	targets := []*server{fg}
	if o.gatekeeper != "" {
		say("Starting Gatekeeper with one ConstraintTemplate and constraint on NetworkPolicies")
		gk, err := startGatekeeper(ctx, o, c, certDir, caFile)
		if gk != nil {
			servers = append(servers, gk)
		}
		if err != nil {
			return err
		}
		if err := warmUp(ctx, gk, reviews, caFile, true, o.out); err != nil {
			return err
		}
		targets = append(targets, gk)
	}

	var steps []step
	for _, r := range o.rates {
		steps = append(steps, step{rate: r, duration: o.duration})
	}
	if o.workers > 0 {
		steps = append(steps, step{workers: o.workers, duration: o.duration})
	}
	names := make([]string, len(reviews))
	for i, r := range reviews {
		names[i] = r.name
	}
	say("Load: %d reviews in turn (%s), keep-alive TLS over HTTP/1.1 as kube-apiserver calls a webhook, at most %d idle connections kept as its transport does, %s per step, client timeout %s",
		len(reviews), strings.Join(names, ", "), idleConns, o.duration, o.timeout)
	tw := newTable(o.out, "server\tstep\tload avg\tachieved/s\tp50\tp99\tmax\tnon-2xx\ttimeouts\tother errors\twrong verdicts\tunchecked\tCPU/review\t")
	sat := map[string]float64{}
	normal := map[string]time.Duration{} // p99 at the first fixed rate, where overload recovers
	var firstErrors []string
	for _, st := range steps {
		for _, t := range targets {
			load := loadAverage()
			res, err := attack(ctx, o, t, reviews, st, t != fg, caFile)
			if err != nil {
				_ = tw.Flush()
				return fmt.Errorf("%s at %s: %w", t.name, st, err)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", t.name, st, load, res.achieved,
				ms(res.p50), ms(res.p99), ms(res.max), res.non2xx, res.timeouts, res.transport, res.wrong, res.unchecked, ms(res.cpuPerReview))
			if res.firstError != "" {
				firstErrors = append(firstErrors, fmt.Sprintf("%s at %s: %s", t.name, st, res.firstError))
			}
			if st.rate == 0 {
				sat[t.name] = res.achieved
			}
			if len(o.rates) > 0 && st.rate == o.rates[0] {
				normal[t.name] = res.p99
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range firstErrors {
		fmt.Fprintln(o.out, "first error:", e)
	}
	if g := sat["gatekeeper"]; g > 0 {
		fmt.Fprintf(o.out, "saturation, flowguard / Gatekeeper: %.2f\n", sat[fg.name]/g)
	}
	if o.overload == 0 {
		return nil
	}
	say("Overload: three times each server's saturation rate for %s, then %d/s for %s", o.overload, o.rates[0], o.duration)
	over := map[string]overloadResult{}
	for _, t := range targets {
		res, err := overloadRun(ctx, o, t, reviews, sat[t.name], o.rates[0], normal[t.name], t != fg, caFile)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		over[t.name] = res
	}
	return printOverload(o, over, targets)
}

func newTable(w io.Writer, header string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, header)
	return tw
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// warmUp sends each review until the server gives it the verdict expected (flowguard's
// traffic arrives through ObservedTraffic up to a sync interval after it is read), and checks
// that flowguard's refusal names a flow.
func warmUp(ctx context.Context, s *server, reviews []review, caFile string, gatekeeper bool, out io.Writer) error {
	client, err := tlsClient(caFile)
	if err != nil {
		return err
	}
	for _, r := range reviews {
		var last error
		var body []byte
		err := s.poll(ctx, 3*time.Minute, "the verdict on "+r.name, func() bool {
			resp, err := client.Post(s.url, "application/json", strings.NewReader(string(r.body)))
			if err != nil {
				last = err
				return false
			}
			defer resp.Body.Close()
			if body, last = io.ReadAll(resp.Body); last != nil {
				return false
			}
			var unchecked bool
			unchecked, last = r.verdict(body, r.allowed || gatekeeper)
			return last == nil && !unchecked
		})
		if err != nil {
			return fmt.Errorf("%w; last: %w", err, last)
		}
		if !r.allowed && !gatekeeper {
			msg := refusalMessage(body)
			if !strings.Contains(msg, "breaking-change") || !strings.Contains(msg, "flow") {
				return fmt.Errorf("%s: refused without breaking-change naming a flow: %.300s", r.name, msg)
			}
			fmt.Fprintf(out, "  %s refused: %.200s\n", r.name, msg)
		}
	}
	return nil
}

func tlsClient(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", caFile)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}
