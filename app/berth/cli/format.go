package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/berthvm/berth/core/units"
)

// render writes v as JSON (format "json"), through a Go template (any other
// non-empty format, as docker's --format), or with human when format is "".
func render(w io.Writer, format string, v any, human func(io.Writer) error) error {
	switch format {
	case "":
		return human(w)
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tmpl, err := template.New("format").Funcs(template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
	}).Parse(format)
	if err != nil {
		return &usageError{err: fmt.Errorf("--format %q is neither 'json' nor a valid Go template: %w", format, err)}
	}
	if err := tmpl.Execute(w, v); err != nil {
		return &usageError{err: fmt.Errorf("--format %q: %w", format, err)}
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// humanMiB renders n MiB as "512 MiB" or "23.4 GiB".
func humanMiB(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%.1f GiB", float64(n)/1024)
	}
	return fmt.Sprintf("%d MiB", n)
}

// yesNo renders a capability and its reason.
func yesNo(ok bool, reason string) string {
	s := "no"
	if ok {
		s = "yes"
	}
	if reason != "" {
		s += " (" + reason + ")"
	}
	return s
}

// clock is the time ago measures from; tests fix it.
var clock = time.Now

// ago renders a past time as docker does: "5 minutes ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return units.Duration(clock().Sub(t)) + " ago"
}
