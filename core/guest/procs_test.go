package guest

import "testing"

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a parenthesis, as the kernel writes it.
	line := "42 (my (odd) cmd) S 7 42 42 34816 42 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1234 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.pid != 42 || st.ppid != 7 || st.comm != "my (odd) cmd" || st.ttyNr != 34816 || st.cpuTicks != 300 || st.startTicks != 1234 ||
		st.flags&pfKthread != 0 {
		t.Fatalf("parseProcStat = %+v", st)
	}
	kthread := "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0\n"
	if st, err := parseProcStat(kthread); err != nil || st.flags&pfKthread == 0 || st.ttyNr != 0 {
		t.Fatalf("kthreadd = %+v, %v", st, err)
	}
	for _, bad := range []string{"", "42 no parens", "x (a) S 1"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q) accepted", bad)
		}
	}
}

func TestTTYNameAndCmd(t *testing.T) {
	cases := map[int]string{0: "?", 136<<8 | 3: "pts/3", 4<<8 | 1: "tty1", 4<<8 | 64: "ttyS0", 5<<8 | 1: "console", 1<<8 | 3: "?"}
	for nr, want := range cases {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
	if got := commandLine([]byte("sh\x00-c\x00sleep 9\x00"), "sh"); got != "sh -c sleep 9" {
		t.Errorf("commandLine = %q", got)
	}
	if got := commandLine(nil, "kworker"); got != "[kworker]" {
		t.Errorf("commandLine of none = %q", got)
	}
	if got := statusUID("Name:\tsh\nUid:\t1000\t1000\t1000\t1000\n"); got != 1000 {
		t.Errorf("statusUID = %d", got)
	}
}
