package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: image build|push [flags]")
	}
	flags := flag.NewFlagSet("image "+args[0], flag.ContinueOnError)
	switch args[0] {
	case "build":
		var opts BuildOptions
		flags.StringVar(&opts.Repo, "repo", ".", "root of the flowguard git checkout to build")
		flags.StringVar(&opts.Out, "out", "bin/image", "folder to write the OCI image layout to (replaced)")
		flags.StringVar(&opts.Version, "version", "", "release version to stamp (default: git describe --tags --always --dirty)")
		if err := flags.Parse(args[1:]); err != nil {
			return err
		}
		res, err := Build(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: index %s (version %s, commit %s)\n", opts.Out, res.Digest, res.Version, res.Commit)
		for _, m := range res.Manifests {
			fmt.Fprintf(out, "  %s %s, %d bytes compressed\n", m.Platform, m.Digest, m.Size)
		}
		return nil
	case "push":
		var layoutDir, image string
		flags.StringVar(&layoutDir, "layout", "bin/image", "OCI image layout written by build")
		flags.StringVar(&image, "image", "", "where to push: host/repository:tag")
		if err := flags.Parse(args[1:]); err != nil {
			return err
		}
		digest, err := Push(ctx, layoutDir, image)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "pushed %s@%s\n", image, digest)
		return nil
	}
	return fmt.Errorf("unknown command %q: want build or push", args[0])
}
