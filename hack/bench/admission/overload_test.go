package main

import (
	"testing"
	"time"
)

func TestRecoveryTime(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// window builds one second of 100 requests starting sec seconds in, slow of them taking
	// 800 ms and the rest 2 ms.
	window := func(sec, slow int) []sample {
		var out []sample
		for i := range 100 {
			lat := 2 * time.Millisecond
			if i < slow {
				lat = 800 * time.Millisecond
			}
			out = append(out, sample{start: at.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Millisecond), latency: lat})
		}
		return out
	}
	join := func(ws ...[]sample) []sample {
		var out []sample
		for _, w := range ws {
			out = append(out, w...)
		}
		return out
	}
	tests := map[string]struct {
		samples []sample
		want    time.Duration
	}{
		"normal from the start": {join(window(0, 0), window(1, 0), window(2, 0)), 0},
		"slow for two seconds":  {join(window(0, 50), window(1, 2), window(2, 0), window(3, 0)), 2 * time.Second},
		"slow again at the end": {join(window(0, 0), window(1, 5)), -1},
		"a later window slow":   {join(window(0, 9), window(1, 0), window(2, 9), window(3, 0)), 3 * time.Second},
		"nothing sent":          {nil, -1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := recoveryTime(tc.samples, 3*time.Second, 10*time.Millisecond); got != tc.want {
				t.Errorf("recoveryTime = %v, want %v", got, tc.want)
			}
		})
	}
}
