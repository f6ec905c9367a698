package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"time"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// A short run that keeps every dependency's types live: collecting
		// less often saves about a sixth of the CPU for ~20% more memory.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	cleanupObjcTools()
	os.Exit(code)
}

// Exit codes: 0 clean, 1 problems found in the project's code, 2 the check
// could not run (bad flags, go list failed).
const (
	exitClean    = 0
	exitProblems = 1
	exitError    = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("darwincheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	goarch := fs.String("goarch", "arm64,amd64", "comma-separated darwin architectures to check")
	dir := fs.String("C", ".", "run in this directory (a directory of the module to check)")
	tests := fs.Bool("tests", true, "also check the _test.go files of the project's packages")
	vet := fs.Bool("vet", true, "also run vet analyzers on the project's packages")
	verbose := fs.Bool("v", false, "also print what was loaded and how many dependency errors were ignored")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: darwincheck [flags] [packages]\n\n"+
			"Type-checks the module's packages as compiled for GOOS=darwin, on any OS,\n"+
			"without a macOS SDK (see doc.go for what it catches). Packages default to ./...\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitError
	}
	patterns := fs.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	var arches []string
	for a := range strings.SplitSeq(*goarch, ",") {
		if a = strings.TrimSpace(a); a != "" {
			arches = append(arches, a)
		}
	}
	if len(arches) == 0 {
		fmt.Fprintln(stderr, "darwincheck: -goarch is empty: give arm64, amd64 or both (arm64,amd64)")
		return exitError
	}

	code := exitClean
	for _, arch := range arches {
		res, err := Check(ctx, Config{Dir: *dir, Patterns: patterns, GOARCH: arch, Tests: *tests, Vet: *vet})
		if err != nil {
			fmt.Fprintf(stderr, "darwincheck: %v\n", err)
			return exitError
		}
		target := "darwin/" + arch
		if *verbose {
			fmt.Fprintf(stderr, "darwincheck: %s: loaded %d other packages, ignored %d errors in them\n", target, res.Deps, res.DepErrors)
			for _, w := range res.Warnings {
				fmt.Fprintf(stderr, "darwincheck: %s: %s\n", target, w)
			}
			if l := res.AllowList; l != nil {
				fmt.Fprintf(stderr, "darwincheck: %s: Objective-C allow-list of %s: %d classes, %d (class, selector) pairs, %d selectors; %d generated files and %d hand-listed classes read in %s (once per run)\n",
					target, l.module, len(l.classes), l.pairs, len(l.anySel), l.files, len(handList), l.took.Round(time.Millisecond))
			}
		}
		if len(res.Problems) > 0 {
			code = exitProblems
			pkg := ""
			for _, p := range res.Problems {
				if p.Package != pkg {
					pkg = p.Package
					fmt.Fprintf(stdout, "# %s (%s)\n", pkg, target)
				}
				fmt.Fprintln(stdout, p.String())
			}
			fmt.Fprintf(stderr, "darwincheck: %s FAILED: %d problems (%d packages, %d files, %d darwin-only, checked in %s)\n",
				target, len(res.Problems), res.Packages, res.Files, res.DarwinFiles, res.Duration.Round(time.Millisecond))
			continue
		}
		what := "type-checked"
		if *vet {
			what = "type-checked and vetted"
		}
		if res.ObjcFiles > 0 {
			what += fmt.Sprintf(", %d Objective-C files parsed by clang with GNUstep's headers", res.ObjcFiles)
		}
		if res.Patched > 0 {
			what += fmt.Sprintf(", %d packages of patched dependencies type-checked with bodies", res.Patched)
		}
		fmt.Fprintf(stdout, "darwincheck: %s ok: %d packages, %d files (%d darwin-only) %s in %s\n",
			target, res.Packages, res.Files, res.DarwinFiles, what, res.Duration.Round(time.Millisecond))
	}
	return code
}
