//go:build unix

package flows

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used, user and system. Benchmarks divide by it
// as well as by wall time: on a shared machine the wall clock also counts the time other
// processes held the core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
