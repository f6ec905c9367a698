package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/image"
	"github.com/spf13/pflag"
)

// unsupportedFlags are docker run flags Berth does not have yet. They are
// accepted by the parser (hidden) so that the answer is "not supported"
// rather than cobra's typo hint, which would suggest a fix that is none.
var unsupportedFlags = []struct {
	name string
	bool bool
}{
	{"privileged", true}, {"init", true},
	{"cap-add", false}, {"cap-drop", false}, {"gpus", false}, {"pid", false}, {"ipc", false}, {"device", false},
	{"security-opt", false}, {"ulimit", false}, {"health-cmd", false},
	{"cgroupns", false}, {"userns", false}, {"sysctl", false}, {"runtime", false},
}

func registerUnsupported(fl *pflag.FlagSet) {
	for _, u := range unsupportedFlags {
		if u.bool {
			fl.Bool(u.name, false, "not supported by Berth yet")
		} else {
			fl.StringArray(u.name, nil, "not supported by Berth yet")
		}
		fl.MarkHidden(u.name)
	}
}

// checkUnsupported refuses the first docker flag given that Berth lacks.
func checkUnsupported(fl *pflag.FlagSet) error {
	for _, u := range unsupportedFlags {
		if fl.Changed(u.name) {
			return fmt.Errorf("--%s is not supported by Berth yet", u.name)
		}
	}
	return nil
}

// checkImageRef refuses what no registry or local image can be named,
// with docker's words, before anything is created or pulled.
func checkImageRef(ref string) error { return image.CheckReference(ref) }

// samePlatform compares "os/arch[/variant]" values, a missing variant
// matching any.
func samePlatform(have, want string) bool {
	h, w := strings.Split(have, "/"), strings.Split(want, "/")
	for i := 0; i < len(h) && i < len(w); i++ {
		if h[i] != w[i] {
			return false
		}
	}
	return len(h) >= 2 && len(w) >= 2
}

// nearImages lists local image names one edit away from ref (a typo's
// likely meaning), for the message of a pull that failed.
func nearImages(ctx context.Context, c *client.Client, ref string) []string {
	imgs, err := c.Images(ctx)
	if err != nil {
		return nil
	}
	want := withTag(ref)
	var out []string
	for _, im := range imgs {
		for _, n := range im.Names {
			short := strings.TrimPrefix(strings.TrimPrefix(n, "docker.io/"), "library/")
			if oneEditApart(withTag(short), want) {
				out = append(out, short)
			}
		}
	}
	return out
}

func withTag(ref string) string {
	if strings.Contains(ref, "@") || strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") {
		return ref
	}
	return ref + ":latest"
}

// oneEditApart reports whether a and b differ by exactly one inserted,
// deleted or replaced byte.
func oneEditApart(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 || a == b {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) == len(b) {
		return a[i+1:] == b[i+1:]
	}
	return a[i:] == b[i+1:]
}

// hintError adds a hint line to an error's message for a person (its
// sentinel still matches).
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return userText(e.err) + "\n" + e.hint }
func (e *hintError) Unwrap() error { return e.err }
