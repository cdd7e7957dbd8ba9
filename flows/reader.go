package flows

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// RecordFunc receives each good record. The Record is reused for the next one: copy what must
// outlive the call. An error stops the reading and is returned to the caller.
type RecordFunc func(*Record) error

// Reader reads flow-log files (Calico flow logs, or Goldmane flows as JSON lines; see
// Parser.ParseLine): plain or gzip-compressed (detected by their magic bytes),
// single files, folders, and rotated sets. Bad records are counted in Tally and skipped; only a
// file that cannot be opened or read at all is an error. A Reader is not safe for concurrent use.
type Reader struct {
	// Tally counts good and malformed records; it must not be nil.
	Tally *Tally
	// MaxLineBytes bounds a line; zero means DefaultMaxLineBytes.
	MaxLineBytes int
	// Observer, if set, is told about every record as it is counted (for metrics).
	Observer Observer

	parser *Parser
	rec    Record
	buf    []byte
}

// Observer is told how many records were accepted and why others were refused.
type Observer interface {
	ObserveAccepted(n int)
	ObserveMalformed(reason Reason)
}

// NewReader returns a Reader counting into tally.
func NewReader(tally *Tally) *Reader {
	return &Reader{Tally: tally, parser: NewParser()}
}

// ReadPaths reads each path in order; a folder is read as ReadDir does.
func (r *Reader) ReadPaths(ctx context.Context, paths []string, fn RecordFunc) error {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("read flow logs: %w", err)
		}
		if fi.IsDir() {
			err = r.ReadDir(ctx, p, fn)
		} else {
			err = r.ReadFile(ctx, p, fn)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadDir reads every file under dir (hidden files excluded), folder by folder, with each
// rotated set oldest first: flows.log.3.gz, flows.log.2, flows.log.1, flows.log.
func (r *Reader) ReadDir(ctx context.Context, dir string, fn RecordFunc) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && path != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list flow logs in %s: %w", dir, err)
	}
	SortRotated(files)
	for _, f := range files {
		if err := r.ReadFile(ctx, f, fn); err != nil {
			return err
		}
	}
	return nil
}

// SortRotated orders file paths so that each rotated set reads oldest first: within a folder,
// names are grouped by the name they rotate from ("flows.log" for "flows.log.2.gz") and a
// higher rotation number comes first; the live file, with none, comes last.
func SortRotated(paths []string) {
	type key struct {
		dir, base string
		n         int
	}
	keys := make(map[string]key, len(paths))
	for _, p := range paths {
		base, n := rotation(filepath.Base(p))
		keys[p] = key{filepath.Dir(p), base, n}
	}
	sort.SliceStable(paths, func(i, j int) bool {
		a, b := keys[paths[i]], keys[paths[j]]
		if a.dir != b.dir {
			return a.dir < b.dir
		}
		if a.base != b.base {
			return a.base < b.base
		}
		return a.n > b.n
	})
}

// rotation splits "flows.log.2.gz" into ("flows.log", 2); a name without a rotation number
// gets 0.
func rotation(name string) (string, int) {
	trimmed := strings.TrimSuffix(name, ".gz")
	if i := strings.LastIndexByte(trimmed, '.'); i > 0 {
		if n, err := strconv.Atoi(trimmed[i+1:]); err == nil && n >= 0 {
			return trimmed[:i], n
		}
	}
	return trimmed, 0
}

// ReadFile reads one file, plain or gzip.
func (r *Reader) ReadFile(ctx context.Context, path string, fn RecordFunc) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read flow log: %w", err)
	}
	defer f.Close()
	return r.ReadStream(ctx, path, f, fn)
}

// ReadStream reads flow-log lines from rd, which may be gzip-compressed; name locates records
// in the tally ("name:line").
func (r *Reader) ReadStream(ctx context.Context, name string, rd io.Reader, fn RecordFunc) error {
	if r.parser == nil {
		r.parser = NewParser()
	}
	br := bufio.NewReaderSize(rd, 64<<10)
	src := io.Reader(br)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			r.malformed(ctx, ReasonCorrupt, Location{name, 1}, fmt.Errorf("gzip header: %w", err))
			return nil
		}
		defer zr.Close()
		src = zr
	}
	split := lineSplitter{max: r.MaxLineBytes}
	each := func(line []byte, n int, tooLong bool) error {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		return r.line(ctx, Location{name, n}, line, tooLong, fn)
	}
	if r.buf == nil {
		r.buf = make([]byte, 256<<10)
	}
	for {
		n, err := src.Read(r.buf)
		if ferr := split.feed(r.buf[:n], each); ferr != nil {
			return ferr
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return split.flush(each)
		}
		if reason, ok := streamFault(err); ok {
			return r.streamFault(ctx, name, &split, reason, err, fn)
		}
		return fmt.Errorf("read flow log %s after line %d: %w", name, split.lines, err)
	}
}

// streamFault classifies errors that mean the bytes are damaged rather than unreadable.
func streamFault(err error) (Reason, bool) {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonTruncated, true
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return ReasonCorrupt, true
	}
	return "", false
}

// streamFault ends a damaged stream: the records before the damage are kept, a held last line
// is kept if it parses, and the damage itself is counted once.
func (r *Reader) streamFault(ctx context.Context, name string, split *lineSplitter, reason Reason, cause error, fn RecordFunc) error {
	at := Location{name, split.lines + 1}
	if split.pending() {
		kept := false
		err := split.flush(func(line []byte, _ int, tooLong bool) error {
			if tooLong || r.parser.ParseLine(line, &r.rec) != nil {
				return nil
			}
			kept = true
			r.accepted()
			return fn(&r.rec)
		})
		if err != nil {
			return err
		}
		if kept {
			at.Line++
		}
	}
	r.malformed(ctx, reason, at, fmt.Errorf("stream ends after line %d: %w", at.Line-1, cause))
	return nil
}

func (r *Reader) line(ctx context.Context, at Location, line []byte, tooLong bool, fn RecordFunc) error {
	if tooLong {
		r.malformed(ctx, ReasonTooLong, at, fmt.Errorf("line longer than %d bytes", r.maxLine()))
		return nil
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil
	}
	if err := r.parser.ParseLine(line, &r.rec); err != nil {
		reason := classify(err, line)
		if reason != reasonOf(err) {
			err = fmt.Errorf("line is not text: %w", err)
		}
		r.malformed(ctx, reason, at, err)
		return nil
	}
	r.accepted()
	return fn(&r.rec)
}

func (r *Reader) maxLine() int {
	if r.MaxLineBytes <= 0 {
		return DefaultMaxLineBytes
	}
	return r.MaxLineBytes
}

func (r *Reader) accepted() {
	r.Tally.Accepted(1)
	if r.Observer != nil {
		r.Observer.ObserveAccepted(1)
	}
}

func (r *Reader) malformed(ctx context.Context, reason Reason, at Location, err error) {
	r.Tally.Malformed(ctx, reason, at, err)
	if r.Observer != nil {
		r.Observer.ObserveMalformed(reason)
	}
}

// classify returns the reason of a parse error, calling a syntax error in a line that is not
// text binary garbage.
func classify(err error, line []byte) Reason {
	reason := reasonOf(err)
	if reason == ReasonSyntax && isBinary(line) {
		return ReasonBinary
	}
	return reason
}

func isBinary(line []byte) bool {
	if !utf8.Valid(line) {
		return true
	}
	for _, c := range line {
		if c < 0x20 && c != '\t' && c != '\r' {
			return true
		}
	}
	return false
}
