package flows

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// stepper drives a Follower one poll at a time: the follower reports that it is idle, and
// waits for the test to let it look again.
type stepper struct {
	idle    chan struct{}
	proceed chan struct{}
}

func newStepper() *stepper {
	return &stepper{idle: make(chan struct{}), proceed: make(chan struct{})}
}

func (s *stepper) wait(ctx context.Context) error {
	select {
	case s.idle <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-s.proceed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// appendFile appends s to the file at path, creating it, as a logging agent writes its log.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFollowerAcrossAppendsRotationAndTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "flows.log")
	template := string(readLines(t, "testdata/calico/level2.jsonl")[0])
	record := func(start int) string {
		return strings.Replace(strings.Replace(template, "1718000100", strconv.Itoa(start), 1), "1718000400", strconv.Itoa(start+300), 1) + "\n"
	}
	appendTo := func(p, s string) { appendFile(t, p, s) }

	var mu sync.Mutex
	var starts []int
	seen := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), starts...)
	}
	step := newStepper()
	tally := &Tally{}
	fol := &Follower{Path: path, Reader: NewReader(tally), FromStart: true, Wait: step.wait}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- fol.Run(ctx, func(r *Record) error {
			mu.Lock()
			starts = append(starts, int(r.Start.Unix()))
			mu.Unlock()
			return nil
		})
	}()

	steps := []struct {
		name   string
		change func()
		want   []int
	}{
		{"the file does not exist yet", func() {}, nil},
		{"the file appears with two records", func() { appendTo(path, record(1)+record(2)) }, []int{1, 2}},
		{"a record and half of the next are written", func() {
			r := record(4)
			appendTo(path, record(3)+r[:100])
		}, []int{1, 2, 3}},
		{"the rest of the half-written record arrives", func() { appendTo(path, record(4)[100:]) }, []int{1, 2, 3, 4}},
		{"the writer appends a last record and rotates", func() {
			appendTo(path, record(5))
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendTo(path, record(6))
		}, []int{1, 2, 3, 4, 5, 6}},
		{"the new file is truncated in place and rewritten", func() {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
			appendTo(path, "{bad\n")
		}, []int{1, 2, 3, 4, 5, 6}},
		{"writing continues after the truncation", func() { appendTo(path, record(7)) }, []int{1, 2, 3, 4, 5, 6, 7}},
	}
	<-step.idle
	for _, s := range steps {
		s.change()
		step.proceed <- struct{}{}
		<-step.idle
		if got := seen(); !slices.Equal(got, s.want) {
			t.Fatalf("after %q: records %v, want %v", s.name, got, s.want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	rep := tally.Report()
	if rep.Records != 7 || rep.Count(ReasonSyntax) != 1 {
		t.Errorf("tally = %+v, want 7 records and 1 syntax error", rep)
	}
}

func TestFollowerStartsAtTheEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.log")
	line := string(readLines(t, "testdata/calico/level2.jsonl")[0]) + "\n"
	if err := os.WriteFile(path, []byte(line+line), 0o644); err != nil {
		t.Fatal(err)
	}
	step := newStepper()
	n := 0
	fol := &Follower{Path: path, Reader: NewReader(&Tally{}), Wait: step.wait}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- fol.Run(ctx, func(*Record) error { n++; return nil }) }()
	<-step.idle
	appendFile(t, path, line)
	step.proceed <- struct{}{}
	<-step.idle
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	if n != 1 {
		t.Errorf("read %d records, want only the 1 written after following began", n)
	}
}
