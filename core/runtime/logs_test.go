package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
)

func collect(t *testing.T, path string, opts LogOptions, active func() bool) []LogEntry {
	t.Helper()
	var got []LogEntry
	err := ReadLogs(context.Background(), path, opts, active, func(e LogEntry) error {
		got = append(got, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func joined(es []LogEntry) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.Stream[:3] + ":" + e.Log)
	}
	return b.String()
}

func TestLogWriteAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := OpenLog(path, api.LogConfig{})
	if err != nil {
		t.Fatal(err)
	}
	out, errw := w.Stream("stdout"), w.Stream("stderr")
	fmt.Fprint(out, "hel")
	fmt.Fprint(errw, "oops\n")
	fmt.Fprint(out, "lo\nworld\npart")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := collect(t, path, LogOptions{}, nil)
	if want := "std:oops\nstd:hello\nstd:world\nstd:part"; joined(got) != want {
		t.Fatalf("entries %q, want %q", joined(got), want)
	}
	if got[0].Stream != "stderr" || got[1].Stream != "stdout" || got[0].Time.IsZero() {
		t.Fatalf("streams/time: %+v", got)
	}
	if tail := collect(t, path, LogOptions{Tail: 2}, nil); joined(tail) != "std:world\nstd:part" {
		t.Fatalf("tail 2 = %q", joined(tail))
	}
	if none := collect(t, path, LogOptions{Since: time.Now().Add(time.Hour)}, nil); len(none) != 0 {
		t.Fatalf("since the future: %d entries", len(none))
	}
	if missing := collect(t, filepath.Join(t.TempDir(), "none"), LogOptions{}, nil); len(missing) != 0 {
		t.Fatal("missing log gave entries")
	}
}

func TestLogTailLargeFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, _ := OpenLog(path, api.LogConfig{})
	out := w.Stream("stdout")
	for i := range 20000 {
		fmt.Fprintf(out, "line %d %s\n", i, strings.Repeat("x", 40))
	}
	w.Close()
	got := collect(t, path, LogOptions{Tail: 3}, nil)
	if len(got) != 3 || !strings.HasPrefix(got[0].Log, "line 19997 ") || !strings.HasPrefix(got[2].Log, "line 19999 ") {
		t.Fatalf("tail 3 of 20000: %q", joined(got))
	}
}

func TestLogFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var running atomic.Bool
	running.Store(true)
	w, _ := OpenLog(path, api.LogConfig{})
	out := w.Stream("stdout")
	fmt.Fprint(out, "before\n")
	go func() {
		for i := range 5 {
			time.Sleep(20 * time.Millisecond)
			fmt.Fprintf(out, "live %d\n", i)
		}
		fmt.Fprint(out, "last")
		w.Close()
		running.Store(false)
	}()
	got := collect(t, path, LogOptions{Follow: true}, running.Load)
	want := "std:before\nstd:live 0\nstd:live 1\nstd:live 2\nstd:live 3\nstd:live 4\nstd:last"
	if joined(got) != want {
		t.Fatalf("follow got %q, want %q", joined(got), want)
	}
}

// lineNumbers are the n of each "line n …" entry, in order.
func lineNumbers(t *testing.T, es []LogEntry) []int {
	t.Helper()
	var ns []int
	for _, e := range es {
		var n int
		if _, err := fmt.Sscanf(e.Log, "line %d ", &n); err != nil {
			t.Fatalf("entry %q: %v", e.Log, err)
		}
		ns = append(ns, n)
	}
	return ns
}

// consecutive fails unless ns counts up by one to last.
func consecutive(t *testing.T, what string, ns []int, last int) {
	t.Helper()
	for i, n := range ns {
		if n != last-len(ns)+1+i {
			t.Fatalf("%s: lines %v, want consecutive lines ending at %d", what, ns, last)
		}
	}
}

func writeLines(w *LogWriter, from, to int) {
	out := w.Stream("stdout")
	for i := from; i < to; i++ {
		fmt.Fprintf(out, "line %d %s\n", i, strings.Repeat("x", 20))
	}
}

// json-file semantics: the log rotates when the current file would pass
// max-size, max-file files are kept (the current one included), and
// reads go across them in order.
func TestLogRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w, err := OpenLog(path, api.LogConfig{MaxSize: 1000, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	writeLines(w, 0, 200)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 1000 || st.Size() == 0 {
			t.Errorf("%s: %d bytes, want 1..1000", filepath.Base(f), st.Size())
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("a 4th file with max-file 3: %v", err)
	}

	all := lineNumbers(t, collect(t, path, LogOptions{}, nil))
	if len(all) < 15 || len(all) > 40 {
		t.Fatalf("%d entries kept in 3 files of 1000 bytes", len(all))
	}
	consecutive(t, "all", all, 199)
	// A tail longer than the current file reaches into the rotated ones.
	for _, n := range []int{1, 5, len(all) - 2, len(all), len(all) + 10} {
		tail := lineNumbers(t, collect(t, path, LogOptions{Tail: n}, nil))
		if len(tail) != min(n, len(all)) {
			t.Fatalf("tail %d: %d entries", n, len(tail))
		}
		consecutive(t, fmt.Sprint("tail ", n), tail, 199)
	}

	// Appending after a restart continues the current file's size.
	w, _ = OpenLog(path, api.LogConfig{MaxSize: 1000, MaxFiles: 3})
	writeLines(w, 200, 230)
	w.Close()
	consecutive(t, "after reopening", lineNumbers(t, collect(t, path, LogOptions{}, nil)), 229)

	// max-file 1: the file starts over.
	one := filepath.Join(t.TempDir(), "one.log")
	w, _ = OpenLog(one, api.LogConfig{MaxSize: 1000, MaxFiles: 1})
	writeLines(w, 0, 100)
	w.Close()
	if st, err := os.Stat(one); err != nil || st.Size() > 1000 {
		t.Fatalf("max-file 1: %v, %v", st, err)
	}
	if _, err := os.Stat(one + ".1"); !os.IsNotExist(err) {
		t.Fatalf("max-file 1 kept a rotated file: %v", err)
	}
	consecutive(t, "max-file 1", lineNumbers(t, collect(t, one, LogOptions{}, nil)), 99)
}

// A follower holds the current file while it rotates, once (nothing
// lost) or so often that the file it holds is deleted (the rest of that
// file, then the files that are left): in order, without duplicates.
func TestLogFollowAcrossRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxFiles int
	}{{"kept", 1000}, {"rotated away", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			w, _ := OpenLog(path, api.LogConfig{MaxSize: 1000, MaxFiles: tc.maxFiles})
			writeLines(w, 0, 1)
			var running atomic.Bool
			running.Store(true)
			first, release := make(chan struct{}), make(chan struct{})
			var got []LogEntry
			done := make(chan error, 1)
			go func() {
				done <- ReadLogs(context.Background(), path, LogOptions{Follow: true}, running.Load, func(e LogEntry) error {
					if len(got) == 0 {
						close(first)
						<-release
					}
					got = append(got, e)
					return nil
				})
			}()
			<-first // the follower holds line 0's file, which now rotates
			writeLines(w, 1, 100)
			w.Close()
			running.Store(false)
			close(release)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			ns := lineNumbers(t, got)
			if tc.maxFiles > 2 {
				consecutive(t, "followed", ns, 99)
				if len(ns) != 100 {
					t.Fatalf("followed %d of 100 lines", len(ns))
				}
				return
			}
			if len(ns) < 2 || ns[0] != 0 || ns[len(ns)-1] != 99 {
				t.Fatalf("followed lines %v, want 0 … 99", ns)
			}
			for i := 1; i < len(ns); i++ {
				if ns[i] <= ns[i-1] {
					t.Fatalf("followed lines out of order or repeated: %v", ns)
				}
			}
		})
	}
}
