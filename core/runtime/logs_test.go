package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
	w, err := OpenLog(path)
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
	w, _ := OpenLog(path)
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
	w, _ := OpenLog(path)
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
