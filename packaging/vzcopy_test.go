package packaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berthvm/berth/core/testenv"
)

// The patched copy of vz that go.mod's replace points at (see
// third_party/vz/BERTH-PATCH.md) and the release it was copied from. The
// hash is the go.sum line of v3.7.1, so the comparison is against the
// genuine release, not whatever a module cache holds.
const (
	vzModule  = "github.com/Code-Hex/vz/v3"
	vzVersion = "v3.7.1"
	vzSum     = "h1:EN1yNiyrbPq+dl388nne2NySo8I94EnPppvqypA65XM="
	vzCopy    = "third_party/vz"
	vzPatch   = "berth.patch"
	vzNotes   = "BERTH-PATCH.md"
)

// TestVZCopy fails when the copy drifts from upstream: every upstream file
// the copy keeps must be there and equal upstream's, except the files
// berth.patch names, which must equal upstream's with the patch applied;
// the copy holds nothing else but the patch and its notes.
func TestVZCopy(t *testing.T) {
	gomod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"\t" + vzModule + " " + vzVersion + "\n",
		"replace " + vzModule + " => ./packaging/" + vzCopy + "\n",
	} {
		if !bytes.Contains(gomod, []byte(line)) {
			t.Errorf("go.mod lacks the line %q: the copy is of %s and must be what the build uses", strings.TrimSpace(line), vzVersion)
		}
	}

	upstream := downloadModule(t, vzModule, vzVersion, vzSum)
	patchText, err := os.ReadFile(filepath.Join(vzCopy, vzPatch))
	if err != nil {
		t.Fatal(err)
	}
	patches, err := parsePatch(string(patchText))
	if err != nil {
		t.Fatalf("%s: %v", vzPatch, err)
	}
	if len(patches) == 0 {
		t.Fatalf("%s patches nothing: drop the copy and the replace instead", vzPatch)
	}
	notes, err := os.ReadFile(filepath.Join(vzCopy, vzNotes))
	if err != nil {
		t.Fatal(err)
	}

	want := map[string][]byte{}
	err = filepath.WalkDir(upstream, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(upstream, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !keptInVZCopy(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		want[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, hunks := range patches {
		orig, ok := want[name]
		if !ok {
			t.Errorf("%s patches %s, which upstream %s does not have (or the copy drops)", vzPatch, name, vzVersion)
			continue
		}
		out, err := applyHunks(string(orig), hunks)
		if err != nil {
			t.Errorf("%s does not apply to upstream %s: %v", vzPatch, name, err)
			continue
		}
		want[name] = []byte(out)
		if !bytes.Contains(notes, []byte(name)) {
			t.Errorf("%s patches %s but %s never mentions it", vzPatch, name, vzNotes)
		}
	}

	got := map[string]bool{}
	err = filepath.WalkDir(vzCopy, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(vzCopy, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		got[rel] = true
		if rel == vzPatch || rel == vzNotes {
			return nil
		}
		w, ok := want[rel]
		if !ok {
			t.Errorf("%s/%s is not a file of upstream %s: only %s and %s may be added", vzCopy, rel, vzVersion, vzPatch, vzNotes)
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if !bytes.Equal(b, w) {
			what := "upstream's"
			if patches[rel] != nil {
				what = "upstream's with " + vzPatch + " applied"
			}
			t.Errorf("%s/%s differs from %s: change it only through %s (see %s)", vzCopy, rel, what, vzPatch, vzNotes)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range want {
		if !got[rel] {
			t.Errorf("%s/%s is missing: upstream %s has it", vzCopy, rel, vzVersion)
		}
	}
	for _, own := range []string{vzPatch, vzNotes} {
		if !got[own] {
			t.Errorf("%s/%s is missing", vzCopy, own)
		}
	}
}

// keptInVZCopy says which files of the vz module the copy keeps: the
// sources (Go, C headers, Objective-C), internal packages, the licence and
// the module files; not tests, tools, examples or repository chores.
func keptInVZCopy(rel string) bool {
	top, _, _ := strings.Cut(rel, "/")
	switch top {
	case "cmd", "example", "testdata", ".github":
		return false
	}
	if strings.HasSuffix(rel, "_test.go") {
		return false
	}
	switch rel {
	case "LICENSE", "go.mod", "go.sum":
		return true
	}
	switch path.Ext(rel) {
	case ".go", ".h", ".m":
		return true
	}
	return false
}

// downloadModule fetches module@version with the go command, in a module of
// its own so that Berth's replace cannot redirect it, checks its hash and
// returns its directory in the module cache.
func downloadModule(t *testing.T, module, version, sum string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module vzcopycheck\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var m struct {
		Path, Version, Error, Dir, Sum string
	}
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("go mod download %s@%s: decode its output: %v\n%s", module, version, err, out)
		}
	}
	if runErr != nil || m.Error != "" {
		msg := strings.TrimSpace(m.Error + "\n" + stderr.String())
		if strings.Contains(msg, "SECURITY ERROR") || strings.Contains(msg, "checksum mismatch") {
			t.Fatalf("go mod download %s@%s: %s", module, version, msg)
		}
		testenv.Missing(t, fmt.Sprintf("cannot download %s@%s to compare the copy with (network or module proxy): %v: %s", module, version, runErr, msg))
	}
	if m.Sum != sum {
		t.Fatalf("%s@%s has hash %s, want %s", module, version, m.Sum, sum)
	}
	return m.Dir
}

// hunk is one @@ section of a unified diff: the lines it expects at
// oldStart (1-based) and the lines it puts there.
type hunk struct {
	oldStart int
	old, new []string // with their newlines
}

// parsePatch reads a unified diff of one or more files (--- a/x, +++ b/x)
// into hunks by file name (the b/ name without its prefix).
func parsePatch(text string) (map[string][]hunk, error) {
	out := map[string][]hunk{}
	lines := strings.SplitAfter(text, "\n")
	var file string
	var cur *hunk
	var oldLeft, newLeft int
	for i, l := range lines {
		if l == "" {
			continue
		}
		if cur != nil && (oldLeft > 0 || newLeft > 0) {
			if !strings.HasSuffix(l, "\n") {
				return nil, fmt.Errorf("line %d: no newline at the end of the patch", i+1)
			}
			body := l[1:]
			switch l[0] {
			case ' ':
				cur.old = append(cur.old, body)
				cur.new = append(cur.new, body)
				oldLeft--
				newLeft--
			case '-':
				cur.old = append(cur.old, body)
				oldLeft--
			case '+':
				cur.new = append(cur.new, body)
				newLeft--
			default:
				return nil, fmt.Errorf("line %d: %q inside a hunk (\"\\ No newline\" and fuzz are not supported)", i+1, strings.TrimSpace(l))
			}
			if oldLeft < 0 || newLeft < 0 {
				return nil, fmt.Errorf("line %d: the hunk is longer than its header says", i+1)
			}
			if oldLeft == 0 && newLeft == 0 {
				out[file] = append(out[file], *cur)
				cur = nil
			}
			continue
		}
		switch {
		case strings.HasPrefix(l, "--- "):
			file = ""
		case strings.HasPrefix(l, "+++ "):
			name := strings.TrimSpace(strings.TrimPrefix(l, "+++ "))
			name, _, _ = strings.Cut(name, "\t")
			var ok bool
			if file, ok = strings.CutPrefix(name, "b/"); !ok || file == "" {
				return nil, fmt.Errorf("line %d: file name %q is not b/NAME", i+1, name)
			}
		case strings.HasPrefix(l, "@@ "):
			if file == "" {
				return nil, fmt.Errorf("line %d: hunk before a +++ line", i+1)
			}
			var h hunk
			var err error
			h.oldStart, oldLeft, newLeft, err = parseHunkHeader(l)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			cur = &h
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", i+1, strings.TrimSpace(l))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("the last hunk of %s is cut short", file)
	}
	return out, nil
}

// parseHunkHeader reads "@@ -start,count +start,count @@".
func parseHunkHeader(l string) (oldStart, oldCount, newCount int, err error) {
	f := strings.Fields(l)
	if len(f) < 4 || f[0] != "@@" || f[3] != "@@" || !strings.HasPrefix(f[1], "-") || !strings.HasPrefix(f[2], "+") {
		return 0, 0, 0, fmt.Errorf("bad hunk header %q", strings.TrimSpace(l))
	}
	rng := func(s string) (int, int, error) {
		a, b, ok := strings.Cut(s, ",")
		start, err := strconv.Atoi(a)
		if err != nil {
			return 0, 0, fmt.Errorf("bad hunk header %q: %w", strings.TrimSpace(l), err)
		}
		if !ok {
			return start, 1, nil
		}
		n, err := strconv.Atoi(b)
		if err != nil {
			return 0, 0, fmt.Errorf("bad hunk header %q: %w", strings.TrimSpace(l), err)
		}
		return start, n, nil
	}
	oldStart, oldCount, err = rng(f[1][1:])
	if err != nil {
		return 0, 0, 0, err
	}
	_, newCount, err = rng(f[2][1:])
	return oldStart, oldCount, newCount, err
}

// applyHunks applies hunks to text exactly where their headers say, with
// no fuzz: any difference from what a hunk expects is an error.
func applyHunks(text string, hunks []hunk) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	var out []string
	next := 0 // index of the first line not yet copied
	for _, h := range hunks {
		at := h.oldStart - 1
		if len(h.old) == 0 {
			at = h.oldStart // a pure insertion goes after line oldStart
		}
		if at < next || at+len(h.old) > len(lines) {
			return "", fmt.Errorf("hunk at line %d is out of order or past the end", h.oldStart)
		}
		for i, want := range h.old {
			if lines[at+i] != want {
				return "", fmt.Errorf("hunk at line %d: line %d is %q, the patch expects %q", h.oldStart, at+i+1, lines[at+i], want)
			}
		}
		out = append(out, lines[next:at]...)
		out = append(out, h.new...)
		next = at + len(h.old)
	}
	out = append(out, lines[next:]...)
	return strings.Join(out, ""), nil
}

func TestApplyHunks(t *testing.T) {
	orig := "a\nb\nc\nd\ne\n"
	patch := "--- a/f.go\n+++ b/f.go\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n@@ -5 +5,2 @@\n e\n+f\n"
	ps, err := parsePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || len(ps["f.go"]) != 2 {
		t.Fatalf("parsed %v, want two hunks of f.go", ps)
	}
	got, err := applyHunks(orig, ps["f.go"])
	if err != nil {
		t.Fatal(err)
	}
	if want := "a\nB\nc\nd\ne\nf\n"; got != want {
		t.Errorf("applied: %q, want %q", got, want)
	}
	// A copy whose upstream moved on no longer matches the context.
	if _, err := applyHunks("a\nX\nc\nd\ne\n", ps["f.go"]); err == nil {
		t.Error("a hunk applied over a line it does not expect")
	}
	for _, bad := range []string{
		"--- a/f.go\n+++ b/f.go\n@@ -1,2 +1,2 @@\n a\n",                // cut short
		"--- a/f.go\n+++ f.go\n@@ -1 +1 @@\n-a\n+b\n",                  // no b/ prefix
		"--- a/f.go\n+++ b/f.go\n@@ -1 +1 @@\n-a\n+b\n\\ No newline\n", // unsupported
	} {
		if _, err := parsePatch(bad); err == nil {
			t.Errorf("parsePatch accepted %q", bad)
		}
	}
}
