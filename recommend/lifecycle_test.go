package recommend

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/flowguard/flowguard/flows"
)

func TestLifecycle(t *testing.T) {
	// frontend -> api since t0; api -> db appears 20 hours later; the last record ends at
	// t0+20h05m.
	recs := []flows.Record{
		flow(frontend, api, flows.ProtoTCP, 8080),
		flow(frontend, api, flows.ProtoTCP, 8080, at(20*time.Hour)),
		flow(api, db, flows.ProtoTCP, 5432, at(20*time.Hour)),
	}
	type states map[string]Status // policy name -> status
	cases := map[string]struct {
		opts Options
		want states
		// wantNS is the namespace's state, carried by the default deny and DNS policies.
		wantNS Status
	}{
		"without --at, the state at the last record: less than a day seen is learning": {
			want:   states{"flowguard-frontend": StatusLearning, "flowguard-api": StatusLearning, "flowguard-db": StatusLearning},
			wantNS: StatusLearning,
		},
		"an hour in: learning": {
			opts:   Options{At: t0.Add(time.Hour)},
			want:   states{"flowguard-frontend": StatusLearning, "flowguard-api": StatusLearning, "flowguard-db": StatusLearning},
			wantNS: StatusLearning,
		},
		"after a day, policies that gained a connection in the last day are stabilizing": {
			opts:   Options{At: t0.Add(30 * time.Hour)},
			want:   states{"flowguard-frontend": StatusStable, "flowguard-api": StatusStabilizing, "flowguard-db": StatusStabilizing},
			wantNS: StatusStabilizing,
		},
		"a day after the last new connection everything is stable": {
			opts:   Options{At: t0.Add(44*time.Hour + time.Minute)},
			want:   states{"flowguard-frontend": StatusStable, "flowguard-api": StatusStable, "flowguard-db": StatusStable},
			wantNS: StatusStable,
		},
		"shorter windows from the options": {
			opts:   Options{At: t0.Add(21 * time.Hour), MinObservation: time.Hour, StabilizationPeriod: 2 * time.Hour},
			want:   states{"flowguard-frontend": StatusStable, "flowguard-api": StatusStabilizing, "flowguard-db": StatusStabilizing},
			wantNS: StatusStabilizing,
		},
		"a clock behind the flows (skew between nodes) counts as no time passed": {
			opts:   Options{At: t0.Add(10 * time.Hour), MinObservation: time.Hour},
			want:   states{"flowguard-frontend": StatusStabilizing, "flowguard-api": StatusStabilizing, "flowguard-db": StatusStabilizing},
			wantNS: StatusStabilizing,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := Recommend(context.Background(), newCluster(t, shop()...), newGraph(t, recs...), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			n := r.Namespace("shop")
			if n.Status != tc.wantNS {
				t.Errorf("namespace status %s, want %s", n.Status, tc.wantNS)
			}
			want := maps.Clone(tc.want)
			want[DefaultDenyName], want[AllowDNSName] = tc.wantNS, tc.wantNS
			for _, obj := range n.Objects {
				got := Status(obj.GetAnnotations()[AnnotationStatus])
				if got != want[obj.GetName()] {
					t.Errorf("%s: status %q, want %q", obj.GetName(), got, want[obj.GetName()])
				}
				if w := obj.GetAnnotations()[AnnotationObservationWindow]; w != "2026-03-01T00:00:00Z/"+r.At.Format(time.RFC3339) {
					t.Errorf("%s: observation window %q", obj.GetName(), w)
				}
			}
		})
	}
}

func TestLifecycleAnnotations(t *testing.T) {
	recs := []flows.Record{flow(frontend, api, flows.ProtoTCP, 8080), flow(api, db, flows.ProtoTCP, 5432, at(20*time.Hour))}
	r, err := Recommend(context.Background(), newCluster(t, shop()...), newGraph(t, recs...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(20*time.Hour + 5*time.Minute); !r.At.Equal(want) || !r.ObservedUntil.Equal(want) || !r.ObservedFrom.Equal(t0) {
		t.Errorf("at %s, observed %s..%s; want at and until %s, from %s", r.At, r.ObservedFrom, r.ObservedUntil, want, t0)
	}
	want := map[string]map[string]string{
		"flowguard-api": {
			AnnotationStatus: "learning", AnnotationObservationWindow: "2026-03-01T00:00:00Z/2026-03-01T20:05:00Z",
			AnnotationLastChanged: "2026-03-01T20:00:00Z", AnnotationWorkloads: "shop/api[Deployment]",
		},
		"flowguard-frontend": {
			AnnotationStatus: "learning", AnnotationObservationWindow: "2026-03-01T00:00:00Z/2026-03-01T20:05:00Z",
			AnnotationLastChanged: "2026-03-01T00:00:00Z", AnnotationWorkloads: "shop/frontend[Deployment]",
		},
		DefaultDenyName: {
			AnnotationStatus: "learning", AnnotationObservationWindow: "2026-03-01T00:00:00Z/2026-03-01T20:05:00Z",
			AnnotationLastChanged: "2026-03-01T20:00:00Z",
		},
	}
	for _, obj := range r.Namespace("shop").Objects {
		if w, ok := want[obj.GetName()]; ok && !maps.Equal(obj.GetAnnotations(), w) {
			t.Errorf("%s annotations:\n%v\nwant:\n%v", obj.GetName(), obj.GetAnnotations(), w)
		}
		if obj.GetLabels()[LabelManagedBy] != "flowguard" {
			t.Errorf("%s labels %v lack %s=flowguard", obj.GetName(), obj.GetLabels(), LabelManagedBy)
		}
	}
}

func TestSince(t *testing.T) {
	recs := []flows.Record{
		flow(frontend, api, flows.ProtoTCP, 8080),
		flow(api, db, flows.ProtoTCP, 5432, at(30*time.Hour)),
	}
	r, err := Recommend(context.Background(), newCluster(t, shop()...), newGraph(t, recs...), Options{Since: t0.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, obj := range r.Namespace("shop").Objects {
		names = append(names, obj.GetName())
	}
	if want := []string{"flowguard-api", "flowguard-db", AllowDNSName, DefaultDenyName}; !slices.Equal(names, want) {
		t.Errorf("policies %v, want %v: traffic before --since must not count", names, want)
	}
	if !r.ObservedFrom.Equal(t0.Add(30 * time.Hour)) {
		t.Errorf("observed from %s, want the first record since", r.ObservedFrom)
	}
}
