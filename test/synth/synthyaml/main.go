// Command synthyaml writes a generated cluster as one multi-document YAML stream, the input of
// the `flowguard connectivity` figures in docs/benchmarks.md:
//
//	go run ./test/synth/synthyaml -dense 10000 > /tmp/dense10000.yaml
//	go run ./test/synth/synthyaml -connectivity > /tmp/conn1000.yaml
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/flowguard/flowguard/test/synth"
)

func main() {
	dense := flag.Int("dense", 0, "workloads of synth.DenseScale")
	connectivity := flag.Bool("connectivity", false, "synth.ConnectivityScale instead")
	flag.Parse()
	var cfg synth.Config
	switch {
	case *connectivity:
		cfg = synth.ConnectivityScale()
	case *dense > 0:
		cfg = synth.DenseScale(*dense)
	default:
		fmt.Fprintln(os.Stderr, "synthyaml: give -dense N or -connectivity")
		os.Exit(2)
	}
	if err := synth.Generate(cfg).WriteYAML(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "synthyaml:", err)
		os.Exit(1)
	}
}
