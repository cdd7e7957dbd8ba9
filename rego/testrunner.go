package rego

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"
)

// TestOptions configure RunTests.
type TestOptions struct {
	// Output receives the report, in `opa test`'s formats.
	Output io.Writer
	// Verbose lists every test, with print output and notes/fails traces of failures.
	Verbose bool
	// JSON reports in `opa test --format json` form instead of the human-readable form.
	JSON bool
	// Run is a regular expression that selects tests by package-qualified name.
	Run string
	// Timeout bounds each test; default 5s.
	Timeout time.Duration
	// Modules are rules loaded beside the paths' modules, each named by its Name in errors:
	// the modules of RegoRule manifests under test.
	Modules []UserRule
}

// TestSummary counts test outcomes.
type TestSummary struct {
	Passed, Failed, Errored, Skipped int
}

// OK reports whether tests ran and none failed or errored.
func (s TestSummary) OK() bool { return s.Failed == 0 && s.Errored == 0 }

// RunTests runs the Rego unit tests (test_* rules) in the .rego files under paths, like
// `opa test`, with flowguard's sandbox and its builtins declared, so that tests mock them with
// `with flowguard.impact as ...`. The helper packages of the built-in library
// (data.flowguard.policy, ...) are loaded unless paths hold them. JSON and YAML files under
// paths are loaded as data, as opa test does. The error is for input that could not be loaded or
// compiled; failed tests are in the summary.
func RunTests(ctx context.Context, paths []string, opts TestOptions) (TestSummary, error) {
	var sum TestSummary
	popts := ast.ParserOptions{RegoVersion: ast.RegoV1, ProcessAnnotation: true}
	modules, store, err := tester.LoadWithParserOptions(paths, nil, popts)
	if err != nil {
		return sum, fmt.Errorf("load %s: %w", strings.Join(paths, ", "), err)
	}
	var errs CompileErrors
	for _, u := range opts.Modules {
		if _, dup := modules[u.Name]; dup {
			return sum, fmt.Errorf("module %s: loaded twice", u.Name)
		}
		m, err := ast.ParseModuleWithOpts(u.Name, u.Source, popts)
		if err != nil {
			errs = append(errs, astErrors(u.Name, err)...)
			continue
		}
		modules[u.Name] = m
	}
	caps, removed := capabilities(builtinDecls())
	for file, m := range modules {
		errs = append(errs, sandboxErrors(file, m, removed)...)
	}
	if len(errs) > 0 {
		return sum, sortErrors(errs)
	}
	if err := addHelpers(modules, popts); err != nil {
		return sum, err
	}

	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return sum, fmt.Errorf("open test data store: %w", err)
	}
	defer store.Abort(ctx, txn)

	compiler := ast.NewCompiler().
		WithCapabilities(caps).
		WithEnablePrintStatements(true).
		WithUseTypeCheckAnnotations(true)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(modules).
		AddCustomBuiltins(testBuiltins()).
		CapturePrintOutput(true).
		EnableTracing(opts.Verbose).
		StackTraces(true).
		SetTimeout(timeout).
		Filter(opts.Run)
	ch, err := runner.RunTests(ctx, txn)
	if err != nil {
		if aerrs, ok := errors.AsType[ast.Errors](err); ok {
			return sum, sortErrors(astErrors("", aerrs))
		}
		return sum, fmt.Errorf("compile tests: %w", err)
	}

	counted := make(chan *tester.Result)
	go func() {
		defer close(counted)
		for r := range ch {
			switch {
			case r.Skip:
				sum.Skipped++
			case r.Error != nil:
				sum.Errored++
			case r.Fail:
				sum.Failed++
			default:
				sum.Passed++
			}
			if opts.Verbose {
				r.Trace = lineage.Filter(r.Trace, func(e *topdown.Event) bool {
					return e.Op == topdown.NoteOp || e.Op == topdown.FailOp
				})
			}
			counted <- r
		}
	}()
	var reporter tester.Reporter = tester.PrettyReporter{Output: opts.Output, Verbose: opts.Verbose}
	if opts.JSON {
		reporter = tester.JSONReporter{Output: opts.Output}
	}
	if err := reporter.Report(counted); err != nil {
		return sum, fmt.Errorf("report test results: %w", err)
	}
	return sum, nil
}

// addHelpers adds the built-in library's helper modules that modules do not already hold.
func addHelpers(modules map[string]*ast.Module, popts ast.ParserOptions) error {
	have := map[string]bool{}
	for _, m := range modules {
		have[m.Package.Path.String()] = true
	}
	lib, err := librarySources()
	if err != nil {
		return err
	}
	for _, src := range lib {
		if !src.helper {
			continue
		}
		m, err := ast.ParseModuleWithOpts(src.file, src.text, popts)
		if err != nil {
			return fmt.Errorf("parse built-in helper %s: %w", src.file, err)
		}
		if !have[m.Package.Path.String()] {
			modules["flowguard:"+src.file] = m
		}
	}
	return nil
}
