// Command clidoc writes docs/cli.md, the command-line reference, from flowguard's command tree:
// go run ./hack/clidoc > docs/cli.md (make docs).
package main

import (
	"fmt"
	"os"

	"github.com/flowguard/flowguard/cmd/flowguard/app"
)

func main() {
	if err := app.WriteCLIDoc(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "clidoc:", err)
		os.Exit(1)
	}
}
