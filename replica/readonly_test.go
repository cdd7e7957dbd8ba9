package replica

import (
	"os"
	"testing"
)

// chmodReadOnly takes the write permission off dir until the test ends.
func chmodReadOnly(t *testing.T, dir string) {
	t.Helper()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
}
