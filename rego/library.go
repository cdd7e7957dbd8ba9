package rego

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// library holds the built-in rules and their Rego tests.
//
//go:embed lib
var library embed.FS

// librarySources returns the built-in rule modules, without their tests.
func librarySources() ([]ruleSource, error) {
	var out []ruleSource
	err := fs.WalkDir(library, "lib", func(p string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() || path.Ext(p) != ".rego" || strings.HasSuffix(p, "_test.rego") {
			return err
		}
		text, err := library.ReadFile(p)
		if err != nil {
			return err
		}
		// Rules live in flowguard.lib.<rule>; lib/flowguard holds the helpers they import.
		helper := path.Dir(p) == "lib/flowguard"
		out = append(out, ruleSource{file: "rego/" + p, text: string(text), builtin: true, helper: helper})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read built-in rule library: %w", err)
	}
	return out, nil
}
