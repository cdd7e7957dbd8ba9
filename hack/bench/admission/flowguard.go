package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// flowguardNamespace is where flowguard runs; its Lease lives there.
const flowguardNamespace = "flowguard-system"

// startFlowguard runs `flowguard serve` with the arguments and environment the chart's
// Deployment gives it (charts/flowguard, default values: GOGC=400, GOMEMLIMIT=900MiB, JSON logs
// at info, leader election, the auditor), except that addresses are on loopback and the flow
// source is the bench's flow-log file. pprof, when set, adds --pprof-bind-address.
func startFlowguard(ctx context.Context, o options, kubeconfig, certDir, flowLog string, records int) (*server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	args := []string{"serve",
		"--log-format=json",
		"--log-level=info",
		"--webhook-host=127.0.0.1",
		fmt.Sprintf("--webhook-port=%d", ports[0]),
		"--cert-dir=" + certDir,
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", ports[2]),
		"--exempt-namespaces=kube-system",
		"--exempt-label=flowguard.dev/exempt",
		"--leader-elect=true",
		"--leader-election-id=flowguard",
		"--auditor=true",
		"--flow-log=" + flowLog,
		"--observed-traffic-sync-interval=30s",
		"--kubeconfig=" + kubeconfig,
	}
	if o.pprof != "" {
		args = append(args, "--pprof-bind-address="+o.pprof)
	}
	env := []string{"POD_NAMESPACE=" + flowguardNamespace, "GOGC=400", "GOMEMLIMIT=900MiB"}
	s, err := start("flowguard serve", o.flowguard, filepath.Join(o.dir, "flowguard.log"), env, args)
	if err != nil {
		return nil, err
	}
	s.url = fmt.Sprintf("https://127.0.0.1:%d/validate", ports[0])
	s.pprof = o.pprof
	if err := s.waitHTTP(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[2]), 2*time.Minute); err != nil {
		return s, err
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[1])
	series := `flowguard_flow_records_ingested_total{source="file"}`
	var got float64
	err = s.poll(ctx, 10*time.Minute, fmt.Sprintf("%d flow records read", records), func() bool {
		got, _ = metric(metrics, series)
		return got >= float64(records)
	})
	if err != nil {
		return s, fmt.Errorf("%w; read %.0f", err, got)
	}
	return s, nil
}

// metric reads one sample of a Prometheus endpoint; series is written as Prometheus prints it.
func metric(url, series string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				return 0, fmt.Errorf("metric %q: %w", line, err)
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%s has no %s", url, series)
}
