//go:build !linux

package replica

import "testing"

func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	chmodReadOnly(t, dir)
}
