package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p/a","Test":"TestOK"}`,
		`{"Action":"output","Package":"p/a","Test":"TestOK","Output":"fine\n"}`,
		`{"Action":"pass","Package":"p/a","Test":"TestOK","Elapsed":0.1}`,
		`{"Action":"output","Package":"p/a","Test":"TestBad","Output":"    x_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p/a","Test":"TestBad","Elapsed":0.2}`,
		`{"Action":"skip","Package":"p/a","Test":"TestSkip"}`,
		`{"Action":"fail","Package":"p/a","Elapsed":0.3}`,
		`# p/b`,
		`b.go:3:1: syntax error`,
		`{"Action":"output","Package":"p/b","Output":"FAIL\tp/b [build failed]\n"}`,
		`{"Action":"fail","Package":"p/b","Elapsed":0}`,
		`{"Action":"pass","Package":"p/c","Elapsed":1}`,
	}, "\n")
	var out bytes.Buffer
	s, err := run(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	if s.passed != 1 || s.failed != 1 || s.skipped != 1 || len(s.badPackages) != 2 {
		t.Fatalf("summary %+v", s)
	}
	text := out.String()
	for _, want := range []string{"x_test.go:9: boom", "b.go:3:1: syntax error", "ok   p/c", "FAIL p/b",
		"failed packages: p/a p/b", "\n1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "fine") {
		t.Errorf("output of a passing test was printed:\n%s", text)
	}
}
