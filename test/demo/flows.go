package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// ReplayFlows copies the Calico flow log at src to dst with every record moved in time by one
// offset, so that the newest record ends at end: the shop's day of traffic, observed as though
// it had just happened, which is what the webhook's and the audit's windows look back over.
// It returns the number of records and the newest end time.
func ReplayFlows(src, dst string, end time.Time) (int, time.Time, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("read flow log: %w", err)
	}
	type record = map[string]json.RawMessage
	var records []record
	var newest int64
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r record
		var times struct {
			End int64 `json:"end_time"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return 0, time.Time{}, fmt.Errorf("%s line %d: %w", src, line, err)
		}
		if err := json.Unmarshal(sc.Bytes(), &times); err != nil {
			return 0, time.Time{}, fmt.Errorf("%s line %d: end_time: %w", src, line, err)
		}
		if times.End == 0 {
			return 0, time.Time{}, fmt.Errorf("%s line %d: no end_time in seconds", src, line)
		}
		newest = max(newest, times.End)
		records = append(records, r)
	}
	if err := sc.Err(); err != nil {
		return 0, time.Time{}, fmt.Errorf("read %s: %w", src, err)
	}
	if len(records) == 0 {
		return 0, time.Time{}, fmt.Errorf("%s holds no flow records", src)
	}
	shift := end.Unix() - newest
	var out bytes.Buffer
	for i, r := range records {
		for _, field := range []string{"start_time", "end_time"} {
			var t int64
			if err := json.Unmarshal(r[field], &t); err != nil {
				return 0, time.Time{}, fmt.Errorf("%s record %d: %s: %w", src, i+1, field, err)
			}
			r[field] = json.RawMessage(fmt.Sprint(t + shift))
		}
		b, err := json.Marshal(r)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("encode record %d: %w", i+1, err)
		}
		out.Write(b)
		out.WriteByte('\n')
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		return 0, time.Time{}, fmt.Errorf("write replayed flow log: %w", err)
	}
	return len(records), time.Unix(newest+shift, 0), nil
}
