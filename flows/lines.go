package flows

import "bytes"

// DefaultMaxLineBytes bounds one record's line. Felix's records are a few KiB even with many
// labels and policies; anything far longer is corrupt, and must not be buffered whole.
const DefaultMaxLineBytes = 1 << 20

// lineSplitter cuts a byte stream into lines without copying those that lie inside one chunk,
// holding back an incomplete last line until the rest arrives, and discarding (not buffering)
// lines longer than max.
type lineSplitter struct {
	max        int
	partial    []byte
	discarding bool
	// lines counts the lines completed so far, so the next line is lines+1.
	lines int
}

// lineFunc receives one line (without its newline) and its number. tooLong marks a line that
// exceeded the maximum; its bytes are not given.
type lineFunc func(line []byte, number int, tooLong bool) error

func (s *lineSplitter) maxBytes() int {
	if s.max <= 0 {
		return DefaultMaxLineBytes
	}
	return s.max
}

// feed splits chunk; the bytes passed to fn are valid only during the call.
func (s *lineSplitter) feed(chunk []byte, fn lineFunc) error {
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			s.hold(chunk)
			return nil
		}
		piece := chunk[:i]
		chunk = chunk[i+1:]
		s.lines++
		switch {
		case s.discarding:
			s.discarding = false
			if err := fn(nil, s.lines, true); err != nil {
				return err
			}
		case len(s.partial) > 0:
			if len(s.partial)+len(piece) > s.maxBytes() {
				s.partial = s.partial[:0]
				if err := fn(nil, s.lines, true); err != nil {
					return err
				}
				continue
			}
			s.partial = append(s.partial, piece...)
			err := fn(s.partial, s.lines, false)
			s.partial = s.partial[:0]
			if err != nil {
				return err
			}
		default:
			if len(piece) > s.maxBytes() {
				if err := fn(nil, s.lines, true); err != nil {
					return err
				}
				continue
			}
			if err := fn(piece, s.lines, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *lineSplitter) hold(b []byte) {
	if s.discarding {
		return
	}
	if len(s.partial)+len(b) > s.maxBytes() {
		s.partial = s.partial[:0]
		s.discarding = true
		return
	}
	s.partial = append(s.partial, b...)
}

// pending reports whether an incomplete line is held.
func (s *lineSplitter) pending() bool { return len(s.partial) > 0 || s.discarding }

// flush ends the stream: a held incomplete line is passed on as the last line.
func (s *lineSplitter) flush(fn lineFunc) error {
	if !s.pending() {
		return nil
	}
	s.lines++
	tooLong := s.discarding
	s.discarding = false
	line := s.partial
	s.partial = s.partial[:0]
	if tooLong {
		return fn(nil, s.lines, true)
	}
	return fn(line, s.lines, false)
}

// reset forgets any held line and restarts the line count (a new file).
func (s *lineSplitter) reset() {
	s.partial = s.partial[:0]
	s.discarding = false
	s.lines = 0
}
