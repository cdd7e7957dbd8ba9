package charts

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"path"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/flowguard/flowguard/cmd/flowguard/app"
)

const chartDir = "flowguard"

// manifest is one rendered document with its kind and name, kept raw for typed decoding.
type manifest struct {
	Kind, Name string
	Raw        []byte
}

// render renders the chart with values as release "flowguard" in namespace "flowguard-system".
func render(t *testing.T, values map[string]any) ([]manifest, error) {
	t.Helper()
	chrt, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	opts := common.ReleaseOptions{Name: "flowguard", Namespace: "flowguard-system", IsInstall: true}
	vals, err := chartutil.ToRenderValues(chrt, values, opts, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, err
	}
	var out []manifest
	for name, text := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for doc := range strings.SplitSeq(text, "\n---") {
			var meta struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: rendered YAML does not parse: %v\n%s", name, err, doc)
			}
			if meta.Kind == "" {
				continue
			}
			out = append(out, manifest{Kind: meta.Kind, Name: meta.Metadata.Name, Raw: []byte(doc)})
		}
	}
	return out, nil
}

// find decodes the one manifest of kind into obj and fails the test when there is not exactly one.
func find(t *testing.T, ms []manifest, kind string, obj any) {
	t.Helper()
	var found []manifest
	for _, m := range ms {
		if m.Kind == kind {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("rendered %d %s manifests, want 1", len(found), kind)
	}
	if err := yaml.UnmarshalStrict(found[0].Raw, obj); err != nil {
		t.Fatalf("%s %s does not decode strictly: %v", kind, found[0].Name, err)
	}
}

func kinds(ms []manifest) []string {
	var ks []string
	for _, m := range ms {
		ks = append(ks, m.Kind)
	}
	slices.Sort(ks)
	return ks
}

func TestChartLints(t *testing.T) {
	linter := lint.RunAll(chartDir, nil, "flowguard-system")
	for _, msg := range linter.Messages {
		if msg.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", msg)
		}
	}
}

func TestChartDefaults(t *testing.T) {
	ms, err := render(t, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	want := []string{"Certificate", "ClusterRole", "ClusterRoleBinding", "Deployment", "Issuer",
		"PodDisruptionBudget", "Role", "Role", "RoleBinding", "RoleBinding", "Service", "ServiceAccount", "ValidatingWebhookConfiguration"}
	if got := kinds(ms); !slices.Equal(got, want) {
		t.Fatalf("rendered kinds = %v, want %v", got, want)
	}

	var dep appsv1.Deployment
	find(t, ms, "Deployment", &dep)
	t.Run("at least two webhook replicas spread over nodes", func(t *testing.T) {
		if *dep.Spec.Replicas < 2 {
			t.Errorf("replicas = %d, want >= 2", *dep.Spec.Replicas)
		}
		aff := dep.Spec.Template.Spec.Affinity
		if aff == nil || aff.PodAntiAffinity == nil || len(aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			t.Errorf("no pod anti-affinity: %+v", aff)
		}
	})
	t.Run("the garbage collector's heap stays under the container's memory limit", func(t *testing.T) {
		c := dep.Spec.Template.Spec.Containers[0]
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["GOGC"] != "400" {
			t.Errorf("GOGC = %q, want 400", env["GOGC"])
		}
		limit, err := resource.ParseQuantity(strings.TrimSuffix(env["GOMEMLIMIT"], "B"))
		if err != nil {
			t.Fatalf("GOMEMLIMIT %q is not a quantity: %v", env["GOMEMLIMIT"], err)
		}
		if mem := c.Resources.Limits.Memory(); limit.Cmp(*mem) >= 0 {
			t.Errorf("GOMEMLIMIT %s is not below the memory limit %s", &limit, mem)
		}
	})
	t.Run("restricted pod security", func(t *testing.T) {
		pod := dep.Spec.Template.Spec
		if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
			t.Error("pod does not require a non-root user")
		}
		c := pod.Containers[0].SecurityContext
		if c == nil || c.ReadOnlyRootFilesystem == nil || !*c.ReadOnlyRootFilesystem {
			t.Error("root filesystem is writable")
		}
		if c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation {
			t.Error("privilege escalation allowed")
		}
		if !slices.Equal(c.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("capabilities dropped = %v, want [ALL]", c.Capabilities.Drop)
		}
	})

	var pdb policyv1.PodDisruptionBudget
	find(t, ms, "PodDisruptionBudget", &pdb)
	if pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB minAvailable = %v, want 1", pdb.Spec.MinAvailable)
	}

	var vwc admissionv1.ValidatingWebhookConfiguration
	find(t, ms, "ValidatingWebhookConfiguration", &vwc)
	t.Run("webhooks fail open with a short timeout and skip exempt namespaces", func(t *testing.T) {
		if got := vwc.Annotations["cert-manager.io/inject-ca-from"]; got != "flowguard-system/flowguard-webhook" {
			t.Errorf("inject-ca-from = %q", got)
		}
		for _, wh := range vwc.Webhooks {
			if *wh.FailurePolicy != admissionv1.Ignore || *wh.TimeoutSeconds != 3 {
				t.Errorf("%s: failurePolicy %s timeout %d, want Ignore 3", wh.Name, *wh.FailurePolicy, *wh.TimeoutSeconds)
			}
			if wh.ClientConfig.Service == nil || wh.ClientConfig.Service.Name != "flowguard" {
				t.Errorf("%s: client config does not call the flowguard service: %+v", wh.Name, wh.ClientConfig)
			}
		}
		ns := vwc.Webhooks[0].NamespaceSelector.MatchExpressions[0]
		if ns.Operator != "NotIn" || !slices.Equal(ns.Values, []string{"flowguard-system", "kube-system"}) {
			t.Errorf("namespaced webhook selector = %+v, want NotIn [flowguard-system kube-system]", ns)
		}
	})
}

func TestChartHelmManagedTLS(t *testing.T) {
	ms, err := render(t, map[string]any{"tls": map[string]any{"mode": "helm"}})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if slices.Contains(kinds(ms), "Certificate") {
		t.Error("helm-managed TLS still renders a cert-manager Certificate")
	}
	var secret corev1.Secret
	find(t, ms, "Secret", &secret)
	var vwc admissionv1.ValidatingWebhookConfiguration
	find(t, ms, "ValidatingWebhookConfiguration", &vwc)

	pool := x509.NewCertPool()
	ca, err := base64.StdEncoding.DecodeString(string(vwc.Webhooks[0].ClientConfig.CABundle))
	if err != nil {
		// caBundle is []byte in the Go type, so YAML already base64-decoded it.
		ca = vwc.Webhooks[0].ClientConfig.CABundle
	}
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("caBundle holds no PEM certificate: %q", ca)
	}
	block, _ := pem.Decode(secret.Data["tls.crt"])
	if block == nil {
		t.Fatal("tls.crt holds no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse serving certificate: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "flowguard.flowguard-system.svc"}); err != nil {
		t.Errorf("serving certificate does not verify against the webhook's caBundle for the service name: %v", err)
	}
}

// TestChartRejectsBadValues feeds values.schema.json bad values: Helm refuses them before
// rendering anything, naming the value (its path in values.yaml) and what is wrong with it.
func TestChartRejectsBadValues(t *testing.T) {
	tests := map[string]struct {
		values  map[string]any
		wantErr []string
	}{
		"no replicas": {
			values:  map[string]any{"replicaCount": 0},
			wantErr: []string{"at '/replicaCount'", "minimum"},
		},
		"replicas as a word": {
			values:  map[string]any{"replicaCount": "two"},
			wantErr: []string{"at '/replicaCount'", "want integer"},
		},
		"a misspelt value": {
			values:  map[string]any{"replicas": 3},
			wantErr: []string{"additional properties 'replicas' not allowed"},
		},
		"unknown TLS mode": {
			values:  map[string]any{"tls": map[string]any{"mode": "manual"}},
			wantErr: []string{"at '/tls/mode'", "'certManager', 'helm'"},
		},
		"certificate duration in days": {
			values:  map[string]any{"tls": map[string]any{"certManager": map[string]any{"duration": "90d"}}},
			wantErr: []string{"at '/tls/certManager/duration'", "does not match pattern"},
		},
		"digest without its algorithm": {
			values:  map[string]any{"image": map[string]any{"digest": "4f1a2b"}},
			wantErr: []string{"at '/image/digest'", "does not match pattern"},
		},
		"digest too short": {
			values:  map[string]any{"image": map[string]any{"digest": "sha256:4f1a2b"}},
			wantErr: []string{"at '/image/digest'", "does not match pattern"},
		},
		"tag and digest in the repository": {
			values:  map[string]any{"image": map[string]any{"repository": "registry.example/flowguard:1.0"}},
			wantErr: []string{"at '/image/repository'", "does not match pattern"},
		},
		"memory limit that is not a quantity": {
			values:  map[string]any{"resources": map[string]any{"limits": map[string]any{"memory": "1 GB"}}},
			wantErr: []string{"at '/resources/limits/memory'", "does not match pattern"},
		},
		"misspelt resources key": {
			values:  map[string]any{"resources": map[string]any{"limit": map[string]any{"memory": "1Gi"}}},
			wantErr: []string{"at '/resources'", "additional properties 'limit' not allowed"},
		},
		"unknown failure policy": {
			values:  map[string]any{"webhook": map[string]any{"failurePolicy": "Deny"}},
			wantErr: []string{"at '/webhook/failurePolicy'", "'Ignore', 'Fail'"},
		},
		"timeout the API server refuses": {
			values:  map[string]any{"webhook": map[string]any{"timeoutSeconds": 60}},
			wantErr: []string{"at '/webhook/timeoutSeconds'", "maximum"},
		},
		"unknown rule action": {
			values:  map[string]any{"webhook": map[string]any{"ruleActions": map[string]any{"breaking-change": "block"}}},
			wantErr: []string{"at '/webhook/ruleActions/breaking-change'", "'deny', 'warn', 'dryrun'"},
		},
		"GOMEMLIMIT in Kubernetes units": {
			values:  map[string]any{"goRuntime": map[string]any{"memoryLimit": "900Mi"}},
			wantErr: []string{"at '/goRuntime/memoryLimit'", "does not match pattern"},
		},
		"relative flow-log path": {
			values:  map[string]any{"flows": map[string]any{"flowLogs": []any{"flows.log"}}},
			wantErr: []string{"at '/flows/flowLogs/0'", "does not match pattern"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ms, err := render(t, tc.values)
			if err == nil {
				t.Fatalf("rendered %d objects, want the values refused", len(ms))
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("render error does not contain %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestChartImage(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := map[string]struct {
		image map[string]any
		want  string
	}{
		"defaults: the chart's appVersion": {want: "ghcr.io/flowguard/flowguard:0.1.0"},
		"a tag":                            {image: map[string]any{"repository": "registry.example:5000/sec/flowguard", "tag": "v0.2.0-rc.1"}, want: "registry.example:5000/sec/flowguard:v0.2.0-rc.1"},
		"a digest":                         {image: map[string]any{"digest": digest}, want: "ghcr.io/flowguard/flowguard@" + digest},
		"a digest wins over a tag":         {image: map[string]any{"tag": "v0.2.0", "digest": digest}, want: "ghcr.io/flowguard/flowguard@" + digest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var values map[string]any
			if tc.image != nil {
				values = map[string]any{"image": tc.image}
			}
			ms, err := render(t, values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			var dep appsv1.Deployment
			find(t, ms, "Deployment", &dep)
			if got := dep.Spec.Template.Spec.Containers[0].Image; got != tc.want {
				t.Errorf("image = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestChartArgsAreFlowguardServeFlags parses the container arguments the chart renders with the
// real `flowguard serve` command and validates them as the binary does at start, so that the
// chart and the binary cannot drift apart. The files the flags name must be where the chart
// mounts them.
func TestChartArgsAreFlowguardServeFlags(t *testing.T) {
	tests := map[string]struct {
		values map[string]any
		// want are flags whose value the chart must set, and files that must be mounted.
		want  map[string]string
		files []string
	}{
		"defaults": {
			want:  map[string]string{"namespace": "flowguard-system", "cert-dir": "/certs", "auditor": "true", "leader-elect": "true", "leader-election-id": "flowguard", "goldmane-address": "", "ingest-token-file": ""},
			files: []string{"/certs/tls.crt", "/certs/tls.key"},
		},
		"every flow source": {
			values: map[string]any{
				"auditor": map[string]any{"enabled": false},
				"webhook": map[string]any{"ruleActions": map[string]any{"breaking-change": "warn"}, "exemptLabel": ""},
				"flows": map[string]any{
					"goldmane":        map[string]any{"enabled": true},
					"ingest":          map[string]any{"enabled": true, "tokenKey": "bearer"},
					"flowLogs":        []any{"/var/log/calico/flowlogs/flows.log"},
					"snapshot":        map[string]any{"enabled": true},
					"observedTraffic": map[string]any{"namespace": "flowguard-traffic", "syncInterval": "1m"},
				},
				"extraVolumes":      []any{map[string]any{"name": "flowlogs", "hostPath": map[string]any{"path": "/var/log/calico/flowlogs"}}},
				"extraVolumeMounts": []any{map[string]any{"name": "flowlogs", "mountPath": "/var/log/calico/flowlogs", "readOnly": true}},
			},
			want: map[string]string{"auditor": "false", "goldmane-address": "goldmane.calico-system.svc:7443",
				"goldmane-aggregation-window": "15s", "observed-traffic-namespace": "flowguard-traffic",
				"observed-traffic-sync-interval": "1m0s", "exempt-label": "", "rule-action": "[breaking-change=warn]"},
			files: []string{"/goldmane/tls.crt", "/goldmane/tls.key", "/goldmane/ca.crt", "/ingest/bearer",
				"/var/lib/flowguard/traffic.snapshot", "/var/log/calico/flowlogs/flows.log"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ms, err := render(t, tc.values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			var dep appsv1.Deployment
			find(t, ms, "Deployment", &dep)
			container := dep.Spec.Template.Spec.Containers[0]
			// The environment as the kubelet gives it to the container.
			for _, e := range container.Env {
				value := e.Value
				if e.ValueFrom != nil {
					if e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
						t.Fatalf("env %s: the test resolves only metadata.namespace: %+v", e.Name, e.ValueFrom)
					}
					value = dep.Namespace
				}
				t.Setenv(e.Name, value)
			}

			root := app.NewRootCommand(io.Discard, io.Discard)
			serve, rest, err := root.Find(container.Args)
			if err != nil || serve.Name() != "serve" {
				t.Fatalf("the chart's arguments %v do not run flowguard serve: %v", container.Args, err)
			}
			if err := serve.ParseFlags(rest); err != nil {
				t.Fatalf("flowguard serve does not accept the chart's arguments: %v", err)
			}
			if extra := serve.Flags().Args(); len(extra) > 0 {
				t.Errorf("arguments that are not flags: %v", extra)
			}
			if err := root.PersistentPreRunE(serve, nil); err != nil {
				t.Errorf("log flags: %v", err)
			}
			if err := serve.PreRunE(serve, nil); err != nil {
				t.Errorf("flowguard serve refuses the chart's arguments: %v", err)
			}
			for flag, want := range tc.want {
				f := serve.Flags().Lookup(flag)
				if f == nil {
					t.Errorf("--%s is not a flag of flowguard serve", flag)
				} else if got := f.Value.String(); got != want {
					t.Errorf("--%s = %q, want %q", flag, got, want)
				}
			}
			for _, file := range tc.files {
				if !mounted(container.VolumeMounts, file) {
					t.Errorf("%s is not under any volume mount of the container: %+v", file, container.VolumeMounts)
				}
			}
		})
	}
}

func mounted(mounts []corev1.VolumeMount, file string) bool {
	for _, m := range mounts {
		if strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/") && path.Clean(file) == file {
			return true
		}
	}
	return false
}
