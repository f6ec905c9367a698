// Command testsum reads `go test -json` on stdin and prints what a person
// wants from a long test run: each package's result, the full output of
// every failing test, and one closing line "N passed, N failed, N skipped".
// It exits 1 if anything failed (a test, a build, a package).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type summary struct {
	passed, failed, skipped int
	badPackages             []string
}

func main() {
	s, err := run(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	if s.failed > 0 || len(s.badPackages) > 0 {
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) (summary, error) {
	var s summary
	outputs := map[string]*strings.Builder{} // package/test -> output so far
	key := func(e event) string { return e.Package + "\x00" + e.Test }
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Build errors and other non-JSON lines: show them as they are.
			fmt.Fprintln(out, string(line))
			continue
		}
		switch e.Action {
		case "output":
			b := outputs[key(e)]
			if b == nil {
				b = &strings.Builder{}
				outputs[key(e)] = b
			}
			b.WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				pkgLine(out, e, outputs[key(e)], &s)
				delete(outputs, key(e))
				continue
			}
			switch e.Action {
			case "pass":
				s.passed++
			case "skip":
				s.skipped++
			case "fail":
				s.failed++
				fmt.Fprintf(out, "--- FAIL: %s %s (%.2fs)\n", e.Package, e.Test, e.Elapsed)
				if b := outputs[key(e)]; b != nil {
					fmt.Fprint(out, indent(b.String()))
				}
			}
			delete(outputs, key(e))
		}
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	sort.Strings(s.badPackages)
	if len(s.badPackages) > 0 {
		fmt.Fprintf(out, "failed packages: %s\n", strings.Join(s.badPackages, " "))
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
	return s, nil
}

func pkgLine(out io.Writer, e event, output *strings.Builder, s *summary) {
	switch e.Action {
	case "pass":
		fmt.Fprintf(out, "ok   %s %.1fs\n", e.Package, e.Elapsed)
	case "skip":
		fmt.Fprintf(out, "?    %s [no test files]\n", e.Package)
	case "fail":
		fmt.Fprintf(out, "FAIL %s %.1fs\n", e.Package, e.Elapsed)
		s.badPackages = append(s.badPackages, e.Package)
		// A package that failed without a failing test (build error, panic
		// in TestMain, timeout): its own output is the only clue.
		if output != nil {
			fmt.Fprint(out, indent(output.String()))
		}
	}
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ") + "\n"
}
