package guestabi

import "testing"

func TestArgs(t *testing.T) {
	line := "console=hvc0 panic=-1 quiet berth.debug " + Arg(ArgRosetta, RosettaTag) + " berth.x86-interpreter=/x/echo"
	cases := []struct {
		key, want string
		ok        bool
	}{
		{ArgRosetta, "rosetta", true},
		{ArgX86Interpreter, "/x/echo", true},
		{"console", "hvc0", true},
		{ArgDebug, "", false}, // a bare word has no value
		{"berth.rosett", "", false},
	}
	for _, tc := range cases {
		if got, ok := ArgValue(line, tc.key); got != tc.want || ok != tc.ok {
			t.Errorf("ArgValue(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	if !HasArg(line, ArgDebug) || HasArg(line, "berth.debu") || !HasArg(line, "console=hvc0") || HasArg(line, "console=hvc") {
		t.Error("HasArg matches whole words only")
	}
}
