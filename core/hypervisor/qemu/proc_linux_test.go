package qemu

import "testing"

func TestParseStartTime(t *testing.T) {
	stat := "1234 (qemu (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 5 6 0 0 20 0 3 0 987654 123 456"
	if got, err := parseStartTime(stat); err != nil || got != 987654 {
		t.Fatalf("got %d, %v", got, err)
	}
	if _, err := parseStartTime("garbage"); err == nil {
		t.Fatal("no error for garbage")
	}
}
