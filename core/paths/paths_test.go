package paths

import (
	"errors"
	"testing"
)

func TestHome(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		goos string
		want string
	}{
		{"override", map[string]string{"BERTH_HOME": "/data/b", "XDG_DATA_HOME": "/x"}, "linux", "/data/b"},
		{"override on mac", map[string]string{"BERTH_HOME": "/data/b"}, "darwin", "/data/b"},
		{"xdg", map[string]string{"XDG_DATA_HOME": "/x"}, "linux", "/x/berth"},
		{"relative xdg ignored", map[string]string{"XDG_DATA_HOME": "x"}, "linux", "/home/u/.local/share/berth"},
		{"linux default", nil, "linux", "/home/u/.local/share/berth"},
		{"mac default", map[string]string{"XDG_DATA_HOME": "/x"}, "darwin", "/home/u/Library/Application Support/Berth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := home(func(k string) string { return tc.env[k] },
				func() (string, error) { return "/home/u", nil }, tc.goos)
			if err != nil || got != tc.want {
				t.Fatalf("home = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	_, err := home(func(string) string { return "" }, func() (string, error) { return "", errors.New("no") }, "linux")
	if err == nil {
		t.Fatal("no home and no override: want an error")
	}
}
