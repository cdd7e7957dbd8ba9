package flows

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"k8s.io/utils/clock"
)

// Follower tails a flow-log file as Felix appends to it, like `tail -F`: it keeps an incomplete
// last line until its newline arrives, follows the file across rotation (the old file is read
// to its end before the new one is opened) and starts over when the file is truncated in place.
type Follower struct {
	// Path is the live file, e.g. /var/log/calico/flowlogs/flows.log.
	Path string
	// Reader parses and counts the records; its Tally receives the malformed ones.
	Reader *Reader
	// FromStart reads what the file already holds; otherwise following starts at its end.
	FromStart bool
	// Wait blocks until it is time to look for new data; it returns an error (ctx.Err()) to stop.
	Wait func(ctx context.Context) error
	// Idle, if set, is called whenever everything written so far has been read, so a caller
	// batching records can flush them.
	Idle func() error
}

// PollEvery returns a Wait function that waits for interval on clk.
func PollEvery(clk clock.Clock, interval time.Duration) func(context.Context) error {
	return func(ctx context.Context) error {
		t := clk.NewTimer(interval)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			return nil
		}
	}
}

// Run follows the file until ctx ends or Wait fails, passing each good record to fn. Line
// numbers in locations count from where following began.
func (f *Follower) Run(ctx context.Context, fn RecordFunc) error {
	if f.Wait == nil {
		f.Wait = PollEvery(clock.RealClock{}, time.Second)
	}
	r := f.Reader
	if r.parser == nil {
		r.parser = NewParser()
	}
	t := tail{f: f, fn: fn, split: lineSplitter{max: r.MaxLineBytes}, buf: make([]byte, 256<<10)}
	defer t.close()
	seekEnd := !f.FromStart
	for {
		if t.file == nil {
			if err := t.open(seekEnd); err != nil {
				return err
			}
		}
		if t.file != nil {
			if err := t.drain(ctx); err != nil {
				return err
			}
		}
		if f.Idle != nil {
			if err := f.Idle(); err != nil {
				return err
			}
		}
		if err := f.Wait(ctx); err != nil {
			return err
		}
		// Only the first file may be joined at its end; files that appear later are read whole.
		seekEnd = false
		if t.file != nil {
			if err := t.checkRotation(ctx); err != nil {
				return err
			}
		}
	}
}

type tail struct {
	f      *Follower
	fn     RecordFunc
	file   *os.File
	info   os.FileInfo
	offset int64
	split  lineSplitter
	buf    []byte
}

func (t *tail) open(seekEnd bool) error {
	file, err := os.Open(t.f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // not written yet; look again after the next wait
	}
	if err != nil {
		return fmt.Errorf("follow flow log: %w", err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return fmt.Errorf("follow flow log %s: %w", t.f.Path, err)
	}
	t.file, t.info, t.offset = file, info, 0
	t.split.reset()
	if seekEnd {
		if t.offset, err = file.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("follow flow log %s: seek to end: %w", t.f.Path, err)
		}
	}
	return nil
}

func (t *tail) close() {
	if t.file != nil {
		t.file.Close()
		t.file = nil
	}
}

// drain reads everything currently in the file, holding back an incomplete last line.
func (t *tail) drain(ctx context.Context) error {
	r := t.f.Reader
	each := func(line []byte, n int, tooLong bool) error {
		return r.line(ctx, Location{t.f.Path, n}, line, tooLong, t.fn)
	}
	for {
		n, err := t.file.Read(t.buf)
		t.offset += int64(n)
		if ferr := t.split.feed(t.buf[:n], each); ferr != nil {
			return ferr
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("follow flow log %s after line %d: %w", t.f.Path, t.split.lines, err)
		}
	}
}

// checkRotation switches to a new file at Path once the old one is read to its end, and
// starts over on a file truncated in place.
func (t *tail) checkRotation(ctx context.Context) error {
	cur, err := os.Stat(t.f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // moved away and not yet recreated: keep reading the old file
	case err != nil:
		return fmt.Errorf("follow flow log: %w", err)
	case !os.SameFile(cur, t.info):
		if err := t.drain(ctx); err != nil {
			return err
		}
		r := t.f.Reader
		if err := t.split.flush(func(line []byte, n int, tooLong bool) error {
			return r.line(ctx, Location{t.f.Path, n}, line, tooLong, t.fn)
		}); err != nil {
			return err
		}
		t.close()
		return t.open(false)
	case cur.Size() < t.offset:
		if _, err := t.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("follow flow log %s: rewind after truncation: %w", t.f.Path, err)
		}
		t.offset = 0
		t.split.reset()
	}
	return nil
}
