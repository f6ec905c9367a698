package main

import "testing"

func TestSuggest(t *testing.T) {
	cands := []string{"setState:", "setTitle:", "state", "sectionHeaderWithTitle:"}
	cases := []struct{ name, want string }{
		{"setStat:", ` (did you mean "setState:"?)`},
		{"setTitel:", ` (did you mean "setTitle:"?)`},
		{"setState:", ""}, // itself: no suggestion
		{"frobnicate:", ""},
		{"sectionHeaderWithTitl:", ` (did you mean "sectionHeaderWithTitle:"?)`},
	}
	for _, tc := range cases {
		if got := suggest(tc.name, cands); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if d := editDistance("kitten", "sitting", 10); d != 3 {
		t.Errorf("editDistance(kitten, sitting) = %d, want 3", d)
	}
	if d := editDistance("setTitel:", "setTitle:", 10); d != 1 {
		t.Errorf("editDistance(setTitel:, setTitle:) = %d, want 1 (a swap)", d)
	}
	if d := editDistance("kitten", "sitting", 2); d != 2 {
		t.Errorf("editDistance capped at 2 = %d", d)
	}
}
