package netpol

import "testing"

func TestVolatileLabel(t *testing.T) {
	cases := map[string]struct {
		key   string
		extra []string
		want  bool
	}{
		"a revision hash":                     {key: "pod-template-hash", want: true},
		"a key under a volatile prefix":       {key: "statefulset.kubernetes.io/pod-name", want: true},
		"Calico's own labels":                 {key: "projectcalico.org/namespace", want: true},
		"an application label":                {key: "app.kubernetes.io/name", want: false},
		"a prefix matches only at a slash":    {key: "projectcalico.orgx", want: false},
		"an extra key":                        {key: "team", extra: []string{"team"}, want: true},
		"an extra prefix":                     {key: "ci.example.com/run", extra: []string{"ci.example.com/"}, want: true},
		"an extra key without slash is exact": {key: "teams", extra: []string{"team"}, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := VolatileLabel(tc.key, tc.extra...); got != tc.want {
				t.Errorf("VolatileLabel(%q, %q) = %v, want %v", tc.key, tc.extra, got, tc.want)
			}
		})
	}
}
