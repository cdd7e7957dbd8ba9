package netpol

import (
	"fmt"
	"strings"
	"testing"
)

// world is the cluster every specification case starts from: two labelled namespaces and a
// third without a Namespace object, workloads with named ports and service accounts, one pod
// with a known address, a Service, and network sets.
const world = `
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, tier: frontend}}
    spec:
      serviceAccountName: web
      containers:
      - name: web
        image: web
        ports:
        - {name: http, containerPort: 8080}
        - {name: dns, containerPort: 53, protocol: UDP}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: prod}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api, tier: backend}}
    spec:
      serviceAccountName: api
      containers:
      - name: api
        image: api
        ports:
        - {name: http, containerPort: 9090}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: prod}
spec:
  selector: {matchLabels: {app: db}}
  serviceName: db
  template:
    metadata: {labels: {app: db, tier: backend}}
    spec:
      containers:
      - name: db
        image: db
        ports:
        - {name: pg, containerPort: 5432}
        - {name: repl, containerPort: 7777, protocol: SCTP}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: dev}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec: {containers: [{name: c, image: c}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: ops}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: a}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: prod, labels: {app: client}}
spec: {containers: [{name: c, image: c}]}
status: {podIP: 10.0.1.5, podIPs: [{ip: 10.0.1.5}]}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: api, namespace: prod, labels: {role: backend}}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: prod}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: http}]
`

// verdictCase is one row of a specification table: objects added to the world, a question,
// and the expected answer. Egress and Ingress, when set, name what decided each direction
// (see summary).
type verdictCase struct {
	objects  string
	from, to string
	port     string
	allowed  bool
	egress   string
	ingress  string
	pending  bool // ask for the pending verdict (staged policies enforced)
}

func runVerdictCases(t *testing.T, cases map[string]verdictCase) {
	t.Helper()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := mustCluster(t, world, tc.objects)
			e := NewEngine(c)
			src, err := c.ParsePeer(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			dst, err := c.ParsePeer(tc.to)
			if err != nil {
				t.Fatal(err)
			}
			pkt, err := e.ParsePort(tc.port, dst)
			if err != nil {
				t.Fatal(err)
			}
			var v Verdict
			if tc.pending {
				v = e.ExplainPending(src, dst, pkt)
			} else {
				v = e.Explain(src, dst, pkt)
			}
			if v.Allowed != tc.allowed {
				t.Errorf("allowed = %v, want %v\n%s", v.Allowed, tc.allowed, v)
			}
			if tc.egress != "" && summary(v.Egress.Hit) != tc.egress {
				t.Errorf("egress decided by %q, want %q\n%s", summary(v.Egress.Hit), tc.egress, v)
			}
			if tc.ingress != "" && summary(v.Ingress.Hit) != tc.ingress {
				t.Errorf("ingress decided by %q, want %q\n%s", summary(v.Ingress.Hit), tc.ingress, v)
			}
			// The memoised path agrees with the explained one.
			var fast Verdict
			if tc.pending {
				fast = e.PendingVerdict(src, dst, pkt)
			} else {
				fast = e.Verdict(src, dst, pkt)
			}
			if fast.Allowed != v.Allowed || fast.Egress.Hit != v.Egress.Hit || fast.Ingress.Hit != v.Ingress.Hit {
				t.Errorf("Verdict %+v disagrees with Explain %+v", fast, v)
			}
		})
	}
}

// summary names a hit compactly: "knp prod/allow#0 Allow", "tier-default default Deny",
// "no-policy", "profile Allow", "not-enforced".
func summary(h Hit) string {
	switch h.Reason {
	case ReasonRule:
		ref := h.Policy.Ref
		name := ref.Name
		if ref.Namespace != "" {
			name = ref.Namespace + "/" + name
		}
		return fmt.Sprintf("%s %s#%d %s", ref.Kind.Short(), name, h.RuleIndex, h.Action)
	case ReasonTierDefault:
		return fmt.Sprintf("tier-default %s %s", h.Tier, h.Action)
	case ReasonProfile:
		return "profile " + h.Action.String()
	}
	return h.Reason.Code()
}

// mustCluster loads YAML documents into a cluster, failing the test on any error.
func mustCluster(t testing.TB, docs ...string) *Cluster {
	t.Helper()
	c := NewCluster()
	if err := c.LoadReader(strings.NewReader(strings.Join(docs, "\n---\n")), "test.yaml"); err != nil {
		t.Fatalf("load: %v", err)
	}
	return c
}
