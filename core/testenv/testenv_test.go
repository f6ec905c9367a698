package testenv

import "testing"

func TestRequireAll(t *testing.T) {
	for _, tc := range []struct {
		val  string
		want bool
	}{{"1", true}, {"", false}, {"0", false}, {"yes", false}} {
		t.Run(tc.val, func(t *testing.T) {
			t.Setenv(RequireAllVar, tc.val)
			if got := RequireAll(); got != tc.want {
				t.Fatalf("RequireAll() with %q = %v, want %v", tc.val, got, tc.want)
			}
		})
	}
}

// fakeTB records how Missing ended the test without ending this one.
type fakeTB struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Skip(...any)           { f.skipped = true }
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true }

func TestMissing(t *testing.T) {
	t.Setenv(RequireAllVar, "")
	f := &fakeTB{}
	Missing(f, "no kernel")
	if !f.skipped || f.failed {
		t.Fatalf("without %s: skipped=%v failed=%v, want a skip", RequireAllVar, f.skipped, f.failed)
	}
	t.Setenv(RequireAllVar, "1")
	f = &fakeTB{}
	Missing(f, "no kernel")
	if !f.failed || f.skipped {
		t.Fatalf("with %s=1: skipped=%v failed=%v, want a failure", RequireAllVar, f.skipped, f.failed)
	}
}
