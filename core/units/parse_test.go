package units

import "testing"

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1024", want: 1024},
		{in: "64m", want: 64 << 20},
		{in: "64M", want: 64 << 20},
		{in: "1.5g", want: 3 << 29},
		{in: "2GiB", want: 2 << 30},
		{in: "10gb", want: 10 << 30},
		{in: "1t", want: 1 << 40},
		{in: " 8k ", want: 8 << 10},
		{in: "0", want: 0},
		{in: "", bad: true},
		{in: "m", bad: true},
		{in: "-1m", bad: true},
		{in: "ten", bad: true},
		{in: "1x", bad: true},
		{in: "99999999999p", bad: true},
	} {
		got, err := ParseBytes(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("ParseBytes(%q) = %d, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
}
