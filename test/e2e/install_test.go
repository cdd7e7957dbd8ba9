//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/strvals"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/test/cluster"
)

// The lifecycle commands of docs/install.md that TestHelmInstallLifecycle runs with the Helm
// library; the test fails when the guide no longer holds them word for word.
const (
	docInstall   = "helm install flowguard charts/flowguard --namespace flowguard-system --create-namespace"
	docUpgrade   = "helm upgrade flowguard charts/flowguard --namespace flowguard-system --reuse-values --set image.tag=0.2.0"
	docUninstall = "helm uninstall flowguard --namespace flowguard-system"
)

// TestHelmInstallLifecycle installs, upgrades and uninstalls the chart with the Helm library
// against a real API server, as docs/install.md says, with cert-manager's and Calico's CRDs
// served but flowguard's own left to the chart. The API server validates every object the chart
// renders; after the uninstall, what the guide says stays (the CRDs, schedules and reports) is
// still there and the rest is gone. Then `kubectl apply -k config/default` installs it again.
func TestHelmInstallLifecycle(t *testing.T) {
	root, err := cluster.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	guide, err := os.ReadFile(filepath.Join(root, "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{docInstall, docUpgrade, docUninstall} {
		if !strings.Contains(string(guide), "\n"+cmd+"\n") {
			t.Fatalf("docs/install.md no longer says %q; keep the guide and this test in step", cmd)
		}
	}

	crdDirs := []string{}
	for _, dir := range cluster.DefaultCRDDirs(root) {
		if filepath.Base(dir) != "bases" {
			crdDirs = append(crdDirs, dir)
		}
	}
	c := cluster.StartForTest(t, cluster.Options{CRDDirs: crdDirs})
	ctx := t.Context()
	const ns = "flowguard-system"

	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &c.Kubeconfig
	flags.Namespace = new(string)
	*flags.Namespace = ns
	cfg := action.NewConfiguration()
	if err := cfg.Init(flags, ns, "secret"); err != nil {
		t.Fatalf("helm configuration: %v", err)
	}
	// kube-apiserver built from the module proxy without version stamping reports
	// v0.0.0-master; Helm checks the chart's kubeVersion against the release it was built from
	// (hack/envtest.sh).
	kubeVersion, err := common.ParseKubeVersion("v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Capabilities = common.DefaultCapabilities.Copy()
	cfg.Capabilities.KubeVersion = *kubeVersion
	chrt, err := loader.Load(filepath.Join(root, "charts", "flowguard"))
	if err != nil {
		t.Fatal(err)
	}

	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = "flowguard", ns, true
	// Nothing schedules pods here: wait for nothing but hooks (the chart has none).
	install.WaitStrategy = kube.HookOnlyStrategy
	rel, err := install.RunWithContext(ctx, chrt, nil)
	if err != nil {
		t.Fatalf("%s: %v", docInstall, err)
	}
	assertRelease(t, rel, 1)
	assertImage(t, c, "ghcr.io/flowguard/flowguard:0.1.0")
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "flowguard"}, &vwc); err != nil {
		t.Fatalf("webhook configuration: %v", err)
	}
	if got := vwc.Annotations["cert-manager.io/inject-ca-from"]; got != ns+"/flowguard-webhook" {
		t.Errorf("inject-ca-from = %q, want %s/flowguard-webhook", got, ns)
	}

	// A schedule and a report, as the auditor would have left them.
	schedule := &v1alpha1.AuditSchedule{ObjectMeta: metav1.ObjectMeta{Name: "nightly"}, Spec: v1alpha1.AuditScheduleSpec{Schedule: "0 3 * * *"}}
	if err := c.Client.Create(ctx, schedule); err != nil {
		t.Fatalf("create AuditSchedule with the chart's CRD: %v", err)
	}
	report := &v1alpha1.ClusterAuditReport{ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", Labels: map[string]string{v1alpha1.ScheduleLabel: "nightly"}},
		Summary: v1alpha1.ClusterReportSummary{ReportSummary: v1alpha1.ReportSummary{EvaluatedAt: metav1.Now()}}}
	if err := c.Client.Create(ctx, report); err != nil {
		t.Fatalf("create ClusterAuditReport with the chart's CRD: %v", err)
	}

	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace, upgrade.ReuseValues = ns, true
	upgrade.WaitStrategy = kube.HookOnlyStrategy
	_, set, _ := strings.Cut(docUpgrade, "--set ")
	values, err := strvals.Parse(set)
	if err != nil {
		t.Fatal(err)
	}
	if rel, err = upgrade.RunWithContext(ctx, "flowguard", chrt, values); err != nil {
		t.Fatalf("%s: %v", docUpgrade, err)
	}
	assertRelease(t, rel, 2)
	assertImage(t, c, "ghcr.io/flowguard/flowguard:0.2.0")

	uninstall := action.NewUninstall(cfg)
	uninstall.WaitStrategy = kube.HookOnlyStrategy
	if _, err := uninstall.Run("flowguard"); err != nil {
		t.Fatalf("%s: %v", docUninstall, err)
	}
	gone := map[string]client.Object{
		"Deployment":                     &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "flowguard", Namespace: ns}},
		"ValidatingWebhookConfiguration": &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "flowguard"}},
	}
	for kind, obj := range gone {
		if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); !apierrors.IsNotFound(err) {
			t.Errorf("%s %s after uninstall: err = %v, want NotFound", kind, obj.GetName(), err)
		}
	}
	stays := map[string]client.Object{"AuditSchedule": schedule, "ClusterAuditReport": report}
	for kind, obj := range stays {
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Errorf("%s %s after uninstall: %v; docs/install.md says it stays", kind, obj.GetName(), err)
		}
	}

	// The kustomize install of the guide, over what the Helm release left, with the real kubectl.
	if out, err := c.Kubectl(ctx, "apply", "-k", filepath.Join(root, "config", "default")); err != nil {
		t.Fatalf("kubectl apply -k config/default: %v\n%s", err, out)
	}
	assertImage(t, c, "ghcr.io/flowguard/flowguard:0.1.0")
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "flowguard"}, &vwc); err != nil {
		t.Fatalf("webhook configuration from config/default: %v", err)
	}
	if got := vwc.Annotations["cert-manager.io/inject-ca-from"]; got != ns+"/flowguard-webhook" {
		t.Errorf("config/default: inject-ca-from = %q, want %s/flowguard-webhook", got, ns)
	}
}

func assertRelease(t *testing.T, r any, version int) {
	t.Helper()
	rel, ok := r.(*releasev1.Release)
	if !ok {
		t.Fatalf("release is a %T", r)
	}
	if rel.Version != version || rel.Info.Status != "deployed" {
		t.Errorf("release version %d status %s, want %d deployed", rel.Version, rel.Info.Status, version)
	}
}

func assertImage(t *testing.T, c *cluster.Cluster, want string) {
	t.Helper()
	var dep appsv1.Deployment
	if err := c.Client.Get(t.Context(), client.ObjectKey{Namespace: "flowguard-system", Name: "flowguard"}, &dep); err != nil {
		t.Fatalf("Deployment flowguard: %v", err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != want {
		t.Errorf("image = %q, want %q", got, want)
	}
}
