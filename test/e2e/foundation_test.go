//go:build e2e

package e2e

import (
	"context"
	"reflect"
	"strings"
	"testing"

	calicov3 "github.com/projectcalico/api/pkg/apis/projectcalico/v3"
	"github.com/projectcalico/api/pkg/lib/numorstring"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	flowguardv1alpha1 "github.com/flowguard/flowguard/api/v1alpha1"
	"github.com/flowguard/flowguard/test/cluster"
)

// TestFoundation proves the test control plane is a real one with faithful CRDs: every CRD
// flowguard works with is served, objects of every Calico kind and cert-manager's Issuer and
// Certificate round-trip, the real kubectl reads them, and the API server enforces the schemas.
// The subtests build on each other's objects, so they run in order on one control plane.
func TestFoundation(t *testing.T) {
	c := cluster.StartForTest(t, cluster.Options{})
	ctx := t.Context()
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shop}}); err != nil {
		t.Fatalf("create namespace %s: %v", shop, err)
	}

	t.Run("every expected CRD is established with its scope", func(t *testing.T) {
		assertCRDs(t, ctx, c, expectedCRDs(t, c.Scheme))
	})

	t.Run("objects of every Calico and cert-manager kind round-trip", func(t *testing.T) {
		for _, obj := range append(calicoObjects(), certManagerObjects()...) {
			assertRoundTrip(t, ctx, c, obj)
		}
	})

	t.Run("kubectl reads what the client wrote", func(t *testing.T) {
		assertKubectlLists(t, ctx, c)
	})

	t.Run("kubectl apply of Calico YAML keeps int-or-string ports and protocols", func(t *testing.T) {
		assertKubectlApplyIntOrString(t, ctx, c)
	})

	t.Run("the API server refuses objects that break the generated schemas", func(t *testing.T) {
		assertSchemaRefusals(t, ctx, c)
	})
}

// expectedCRDs returns CRD name -> scope for every CRD the control plane must serve: Calico's
// and cert-manager's by name, flowguard's from the kinds api/v1alpha1 registers, so a type
// added without `make manifests` fails here.
func expectedCRDs(t *testing.T, scheme *runtime.Scheme) map[string]apiextensionsv1.ResourceScope {
	t.Helper()
	const namespaced, clusterScoped = apiextensionsv1.NamespaceScoped, apiextensionsv1.ClusterScoped
	want := map[string]apiextensionsv1.ResourceScope{
		"networkpolicies.projectcalico.org":                     namespaced,
		"globalnetworkpolicies.projectcalico.org":               clusterScoped,
		"stagednetworkpolicies.projectcalico.org":               namespaced,
		"stagedglobalnetworkpolicies.projectcalico.org":         clusterScoped,
		"stagedkubernetesnetworkpolicies.projectcalico.org":     namespaced,
		"networksets.projectcalico.org":                         namespaced,
		"globalnetworksets.projectcalico.org":                   clusterScoped,
		"tiers.projectcalico.org":                               clusterScoped,
		"adminnetworkpolicies.policy.networking.k8s.io":         clusterScoped,
		"baselineadminnetworkpolicies.policy.networking.k8s.io": clusterScoped,
		"clusternetworkpolicies.policy.networking.k8s.io":       clusterScoped,
		"certificates.cert-manager.io":                          namespaced,
		"certificaterequests.cert-manager.io":                   namespaced,
		"issuers.cert-manager.io":                               namespaced,
		"clusterissuers.cert-manager.io":                        clusterScoped,
		"orders.acme.cert-manager.io":                           namespaced,
		"challenges.acme.cert-manager.io":                       namespaced,
	}
	kinds := flowguardKinds(scheme)
	if len(kinds) == 0 {
		t.Fatal("api/v1alpha1 registers no kinds")
	}
	for _, kind := range kinds {
		want["flowguard.dev/"+kind] = "" // matched by kind below; scope is the type's to choose
	}
	return want
}

// flowguardKinds returns the kinds api/v1alpha1 registers, without their lists and without the
// metav1 option types every group carries.
func flowguardKinds(scheme *runtime.Scheme) []string {
	apiPkg := reflect.TypeFor[flowguardv1alpha1.AuditSchedule]().PkgPath()
	var kinds []string
	for kind, typ := range scheme.KnownTypes(flowguardv1alpha1.GroupVersion) {
		if typ.PkgPath() == apiPkg && !strings.HasSuffix(kind, "List") {
			kinds = append(kinds, kind)
		}
	}
	return kinds
}

func assertCRDs(t *testing.T, ctx context.Context, c *cluster.Cluster, want map[string]apiextensionsv1.ResourceScope) {
	t.Helper()
	var crds apiextensionsv1.CustomResourceDefinitionList
	if err := c.Client.List(ctx, &crds); err != nil {
		t.Fatalf("list CRDs: %v", err)
	}
	served := map[string]apiextensionsv1.CustomResourceDefinition{}
	for _, crd := range crds.Items {
		served[crd.Name] = crd
		if crd.Spec.Group == flowguardv1alpha1.GroupVersion.Group {
			served["flowguard.dev/"+crd.Spec.Names.Kind] = crd
		}
	}
	for name, scope := range want {
		crd, ok := served[name]
		if !ok {
			t.Errorf("CRD %s is not installed", name)
			continue
		}
		if scope != "" && crd.Spec.Scope != scope {
			t.Errorf("CRD %s has scope %s, want %s", name, crd.Spec.Scope, scope)
		}
		if !established(crd) {
			t.Errorf("CRD %s is not established", name)
		}
	}
}

func established(crd apiextensionsv1.CustomResourceDefinition) bool {
	for _, cond := range crd.Status.Conditions {
		if cond.Type == apiextensionsv1.Established {
			return cond.Status == apiextensionsv1.ConditionTrue
		}
	}
	return false
}

// assertRoundTrip creates obj, reads it back into a fresh object of its type and compares the
// specs as JSON, so a schema that prunes or reshapes a field shows up as a difference.
func assertRoundTrip(t *testing.T, ctx context.Context, c *cluster.Cluster, obj client.Object) {
	t.Helper()
	gvk, err := c.Client.GroupVersionKindFor(obj)
	if err != nil {
		t.Fatalf("kind of %T: %v", obj, err)
	}
	want := specOf(t, obj)
	if err := c.Client.Create(ctx, obj); err != nil {
		t.Errorf("create %s %s: %v", gvk.Kind, client.ObjectKeyFromObject(obj), err)
		return
	}
	got, err := c.Scheme.New(gvk)
	if err != nil {
		t.Fatalf("new %s: %v", gvk, err)
	}
	if err := c.Client.Get(ctx, client.ObjectKeyFromObject(obj), got.(client.Object)); err != nil {
		t.Errorf("get %s %s: %v", gvk.Kind, client.ObjectKeyFromObject(obj), err)
		return
	}
	if gotSpec := specOf(t, got); !reflect.DeepEqual(gotSpec, want) {
		t.Errorf("%s %s did not round-trip:\n got spec %s\nwant spec %s", gvk.Kind, client.ObjectKeyFromObject(obj), toYAML(t, gotSpec), toYAML(t, want))
	}
}

func specOf(t *testing.T, obj runtime.Object) any {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatalf("convert %T: %v", obj, err)
	}
	return u["spec"]
}

func assertKubectlLists(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	t.Helper()
	const names = `-o=jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}`
	tests := map[string]struct {
		args []string
		want string
	}{
		"calico network policies in all namespaces": {
			args: []string{"get", "networkpolicies.projectcalico.org", "-A", names},
			want: "shop/security.allow-frontend-to-api\n",
		},
		"calico global network policies": {
			args: []string{"get", "globalnetworkpolicies.projectcalico.org", names},
			want: "/security.dns-only-egress\n",
		},
		"staged network policies": {
			args: []string{"get", "stagednetworkpolicies.projectcalico.org", "-n", shop, names},
			want: "shop/security.staged-allow-frontend-to-api\n",
		},
		"staged global network policies": {
			args: []string{"get", "stagedglobalnetworkpolicies.projectcalico.org", names},
			want: "/security.staged-dns-only-egress\n",
		},
		"staged kubernetes network policies": {
			args: []string{"get", "stagedkubernetesnetworkpolicies.projectcalico.org", "-A", names},
			want: "shop/allow-frontend\n",
		},
		"network sets by label": {
			args: []string{"get", "networksets.projectcalico.org", "-A", "-l", "role=payments", names},
			want: "shop/payment-providers\n",
		},
		"global network sets": {
			args: []string{"get", "globalnetworksets.projectcalico.org", names},
			want: "/cloud-metadata\n",
		},
		"tier order and default action": {
			args: []string{"get", "tiers.projectcalico.org", "security", "-o=jsonpath={.spec.order} {.spec.defaultAction}"},
			want: "100 Pass",
		},
		"policy ports as people wrote them": {
			args: []string{"get", "networkpolicies.projectcalico.org", "-n", shop, "security.allow-frontend-to-api", "-o=jsonpath={.spec.ingress[0].destination.ports}"},
			want: `[8080,"9000:9100","metrics"]`,
		},
		"certificates with their issuer": {
			args: []string{"get", "certificates.cert-manager.io", "-n", shop, "-o=jsonpath={range .items[*]}{.metadata.name} {.spec.issuerRef.name}{end}"},
			want: "flowguard-webhook flowguard-selfsigned",
		},
		"issuers": {
			args: []string{"get", "issuers.cert-manager.io", "-A", names},
			want: "shop/flowguard-selfsigned\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.Kubectl(ctx, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("kubectl %s\n got %q\nwant %q", strings.Join(tc.args, " "), got, tc.want)
			}
		})
	}

	t.Run("the default table names every flowguard kind's resource", func(t *testing.T) {
		for _, kind := range flowguardKinds(c.Scheme) {
			mapping, err := c.Client.RESTMapper().RESTMapping(flowguardv1alpha1.GroupVersion.WithKind(kind).GroupKind())
			if err != nil {
				t.Errorf("resource of %s: %v", kind, err)
				continue
			}
			if _, err := c.Kubectl(ctx, "get", mapping.Resource.Resource+"."+mapping.Resource.Group, "-A"); err != nil {
				t.Error(err)
			}
		}
	})
}

// assertKubectlApplyIntOrString applies a policy written the way people write Calico YAML and
// reads it back through the Go types: a schema that declared ports as objects would refuse it.
func assertKubectlApplyIntOrString(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	t.Helper()
	const manifest = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.allow-dns
spec:
  tier: security
  order: 5
  selector: all()
  types: [Egress]
  egress:
  - action: Allow
    protocol: UDP
    destination:
      selector: k8s-app == 'kube-dns'
      ports: [53, "5353:5354", dns]
  - action: Allow
    protocol: 6
    notProtocol: ICMP
`
	out, err := c.KubectlStdin(ctx, manifest, "apply", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	if want := "globalnetworkpolicy.projectcalico.org/security.allow-dns created\n"; out != want {
		t.Errorf("kubectl apply printed %q, want %q", out, want)
	}
	var gnp calicov3.GlobalNetworkPolicy
	if err := c.Client.Get(ctx, client.ObjectKey{Name: "security.allow-dns"}, &gnp); err != nil {
		t.Fatalf("get applied policy: %v", err)
	}
	dnsRange, err := numorstring.PortFromRange(5353, 5354)
	if err != nil {
		t.Fatal(err)
	}
	egress := gnp.Spec.Egress
	if len(egress) != 2 {
		t.Fatalf("applied policy has %d egress rules, want 2", len(egress))
	}
	wantPorts := []numorstring.Port{numorstring.SinglePort(53), dnsRange, numorstring.NamedPort("dns")}
	if !reflect.DeepEqual(egress[0].Destination.Ports, wantPorts) {
		t.Errorf("ports = %v, want %v", egress[0].Destination.Ports, wantPorts)
	}
	for i, want := range map[int]numorstring.Protocol{0: numorstring.ProtocolFromString("UDP"), 1: numorstring.ProtocolFromInt(6)} {
		if got := egress[i].Protocol; got == nil || *got != want {
			t.Errorf("egress[%d].protocol = %v, want %v", i, got, want)
		}
	}
}

func assertSchemaRefusals(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	t.Helper()
	tests := map[string]struct {
		manifest string
		// wantCauses are substrings of the API server's message: the field path and the reason.
		wantCauses []string
	}{
		"a tier's default action is Pass or Deny, never Allow": {
			manifest:   "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: permissive}\nspec: {order: 200, defaultAction: Allow}\n",
			wantCauses: []string{"spec.defaultAction", `Unsupported value: "Allow"`},
		},
		"a tier's order is a number": {
			manifest:   "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: unordered}\nspec: {order: first}\n",
			wantCauses: []string{"spec.order", "must be of type number"},
		},
		"a port is an integer or a string, never an object": {
			manifest: "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: object-port, namespace: shop}\n" +
				"spec: {ingress: [{action: Allow, protocol: TCP, destination: {ports: [{minPort: 80, maxPort: 81}]}}]}\n",
			wantCauses: []string{"spec.ingress[0].destination.ports[0]", "integer"},
		},
		"a network set's nets are a list": {
			manifest:   "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: one-net}\nspec: {nets: 10.0.0.0/8}\n",
			wantCauses: []string{"spec.nets", "must be of type array"},
		},
		"a certificate names its issuer": {
			manifest:   "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: orphan, namespace: shop}\nspec: {secretName: orphan-tls, dnsNames: [a.example]}\n",
			wantCauses: []string{"spec.issuerRef", "Required value"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(tc.manifest), &obj.Object); err != nil {
				t.Fatalf("decode manifest: %v", err)
			}
			err := c.Client.Create(ctx, obj)
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create %s %s: got %v, want Invalid", obj.GetKind(), obj.GetName(), err)
			}
			for _, cause := range tc.wantCauses {
				if !strings.Contains(err.Error(), cause) {
					t.Errorf("refusal %q does not mention %q", err, cause)
				}
			}
			// kubectl users see the same refusal.
			_, err = c.KubectlStdin(ctx, tc.manifest, "apply", "-f", "-")
			if err == nil || !strings.Contains(err.Error(), tc.wantCauses[0]) {
				t.Errorf("kubectl apply: got %v, want a refusal naming %s", err, tc.wantCauses[0])
			}
		})
	}
}

func toYAML(t *testing.T, v any) string {
	t.Helper()
	out, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(out)
}
