package api

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRestartPolicy(t *testing.T) {
	cases := []struct {
		in      string
		want    RestartPolicy
		wantErr string // a part of the error; "" for none
	}{
		{"no", RestartPolicy{Name: "no"}, ""},
		{"", RestartPolicy{}, ""},
		{"always", RestartPolicy{Name: "always"}, ""},
		{"unless-stopped", RestartPolicy{Name: "unless-stopped"}, ""},
		{"on-failure", RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:3", RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, ""},
		{"on-failure:0", RestartPolicy{Name: "on-failure"}, ""},
		{"on-failure:-1", RestartPolicy{}, "maximum retry count cannot be negative"},
		{"on-failure:x", RestartPolicy{}, "maximum retry count must be an integer"},
		{"always:2", RestartPolicy{}, "maximum retry count can only be used with 'on-failure'"},
		{"no:-2", RestartPolicy{}, "can only be used with 'on-failure' and cannot be negative"},
		{":3", RestartPolicy{}, "no policy provided before colon"},
		{"sometimes", RestartPolicy{}, "unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRestartPolicy(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidArgument) {
					t.Fatalf("ParseRestartPolicy(%q) = %v, %v; want an invalid argument with %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseRestartPolicy(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestRestartPolicyString(t *testing.T) {
	for p, want := range map[RestartPolicy]string{
		{}: "no", {Name: "no"}: "no", {Name: "always"}: "always", {Name: "on-failure"}: "on-failure",
		{Name: "on-failure", MaximumRetryCount: 2}: "on-failure:2", {Name: "unless-stopped"}: "unless-stopped",
	} {
		if got := p.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", p, got, want)
		}
	}
}
