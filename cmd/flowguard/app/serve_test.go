package app

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/flowguard/flowguard/rego"
	"github.com/flowguard/flowguard/webhook"
)

func TestServeOptionsValidate(t *testing.T) {
	tests := map[string]struct {
		args    []string
		wantErr []string
	}{
		"the defaults are valid": {},
		"the chart's arguments are valid": {
			args: []string{"--namespace=flowguard", "--webhook-port=9443", "--cert-dir=/certs", "--metrics-bind-address=:8080",
				"--health-probe-bind-address=:8081", "--exempt-namespaces=kube-system,flowguard", "--rule-action=breaking-change=warn"},
		},
		"metrics can be turned off": {args: []string{"--metrics-bind-address=0"}},
		"every problem is reported at once": {
			args: []string{"--namespace=Flow_Guard", "--webhook-port=0", "--cert-dir=", "--health-probe-bind-address=8081",
				"--rule-action=allow-all", "--rule-action=allow-all=block", "--lookback=0s"},
			wantErr: []string{
				`--namespace "Flow_Guard"`,
				"--webhook-port 0: must be between 1 and 65535",
				"--cert-dir: must be set",
				`--health-probe-bind-address "8081"`,
				`--rule-action "allow-all": want RULE=ACTION`,
				`--rule-action "allow-all=block": action "block" is not one of deny, warn, dryrun`,
				"--lookback 0s: must be positive",
			},
		},
		"every flow source at once": {
			args: []string{"--goldmane-address=goldmane.calico-system.svc:7443", "--goldmane-cert-dir=/goldmane",
				"--ingest-token-file=/ingest/token", "--flow-log=/var/log/calico/flowlogs/flows.log", "--flow-log=/logs/b.log",
				"--traffic-snapshot=/data/traffic.snapshot", "--observed-traffic-namespace=flowguard-traffic", "--auditor=false"},
		},
		"Goldmane needs its client certificate, and the certificate needs Goldmane": {
			args:    []string{"--goldmane-address=goldmane:7443"},
			wantErr: []string{"--goldmane-cert-dir: must be set with --goldmane-address"},
		},
		"a certificate folder without Goldmane is a mistake": {
			args:    []string{"--goldmane-cert-dir=/goldmane"},
			wantErr: []string{"--goldmane-cert-dir: set without --goldmane-address"},
		},
		"traffic options are checked": {
			args: []string{"--goldmane-aggregation-window=1500ms", "--flow-log=", "--traffic-snapshot-interval=0s",
				"--observed-traffic-sync-interval=-1s", "--observed-traffic-namespace=Traffic"},
			wantErr: []string{
				"--goldmane-aggregation-window 1.5s: must be a whole number of seconds",
				"--flow-log: must not be empty",
				"--traffic-snapshot-interval 0s: must be positive",
				"--observed-traffic-sync-interval -1s: must be positive",
				`--observed-traffic-namespace "Traffic"`,
			},
		},
		"the webhook configuration is validated too": {
			args:    []string{"--exempt-namespaces=Bad_NS", "--evaluation-deadline=0s"},
			wantErr: []string{`exempt namespace "Bad_NS"`, "decision deadline 0s: must be positive"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := NewServeOptions()
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := o.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want errors")
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v\nwant it to contain %q", err, want)
				}
			}
		})
	}
}

func TestServeOptionsConfig(t *testing.T) {
	o := NewServeOptions()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{
		"--namespace=guard", "--exempt-namespaces=kube-system, guard ,monitoring", "--exempt-label=",
		"--rule-action=breaking-change=warn", "--rule-action=allow-all=deny",
		"--fail-closed-without-flows", "--fail-closed-on-deadline", "--evaluation-deadline=250ms",
	}); err != nil {
		t.Fatal(err)
	}
	got := o.Config()
	want := webhook.Config{
		Overrides:        map[string]rego.Action{"breaking-change": rego.ActionWarn, "allow-all": rego.ActionDeny},
		ExemptNamespaces: []string{"guard", "kube-system", "monitoring"},
		Deadline:         250 * time.Millisecond,
		FailClosed:       webhook.FailClosed{WithoutFlows: true, OnDeadline: true},
	}
	if strings.Join(got.ExemptNamespaces, ",") != strings.Join(want.ExemptNamespaces, ",") {
		t.Errorf("exempt namespaces = %v, want %v (own namespace first, once)", got.ExemptNamespaces, want.ExemptNamespaces)
	}
	if len(got.Overrides) != 2 || got.Overrides["breaking-change"] != rego.ActionWarn || got.Overrides["allow-all"] != rego.ActionDeny {
		t.Errorf("overrides = %v, want %v", got.Overrides, want.Overrides)
	}
	if got.ExemptLabel != "" || got.Deadline != want.Deadline || got.FailClosed != want.FailClosed {
		t.Errorf("config = %+v, want %+v", got, want)
	}
}

func TestServeCommandRefusesBadFlags(t *testing.T) {
	var out, errOut strings.Builder
	code := Execute([]string{"serve", "--rule-action=allow-all=maybe"}, &out, &errOut)
	if code != ExitBadInput || !strings.Contains(errOut.String(), `action "maybe" is not one of deny, warn, dryrun`) {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}
