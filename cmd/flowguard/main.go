// Command flowguard is the admission webhook, auditor and offline CLI in one binary.
package main

import (
	"os"

	"github.com/flowguard/flowguard/cmd/flowguard/app"
)

func main() {
	os.Exit(app.Execute(os.Args[1:], os.Stdout, os.Stderr))
}
