package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// templateFuncs are docker's template functions (its templates package):
// json, split, join, title, lower, upper, pad, truncate; println and index
// are text/template's own.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSpace(b.String()), nil
	},
	"split": strings.Split,
	"join":  strings.Join,
	"title": func(s string) string {
		prev := ' '
		return strings.Map(func(r rune) rune {
			defer func() { prev = r }()
			if unicode.IsSpace(prev) || unicode.IsPunct(prev) {
				return unicode.ToTitle(r)
			}
			return r
		}, s)
	},
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", before) + s + strings.Repeat(" ", after)
	},
	"truncate": func(s string, n int) string {
		if r := []rune(s); len(r) > n {
			return string(r[:n])
		}
		return s
	},
}

// parseTemplate parses a --format template with docker's functions; its
// errors read as docker's ("template: :1: …").
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs).Parse(format)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("--format: %w", err)}
	}
	return t, nil
}

// A listRow is one row of a list command (ps, images): its exported
// methods are the template's fields, and header reports the row that
// prints the table's column names instead of values.
type listRow interface {
	isHeader() bool
}

// listFormat is a list command's --format, as docker reads it: "" or
// "table" is the command's default table; "table TEMPLATE" a table with
// docker's column names as header; "json" one JSON object per row; any
// other text a template run on each row.
type listFormat struct {
	table bool
	json  bool
	tmpl  *template.Template
}

func parseListFormat(format, defaultTable string) (listFormat, error) {
	switch f := strings.TrimSpace(format); {
	case f == "" || f == "table":
		format = defaultTable
	case f == "json":
		return listFormat{json: true}, nil
	}
	lf := listFormat{}
	if rest, ok := strings.CutPrefix(format, "table"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		lf.table = true
		format = strings.TrimLeft(rest, " ")
	}
	// Docker reads "\t" and "\n" typed literally in a shell as escapes.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := parseTemplate(format)
	if err != nil {
		return listFormat{}, err
	}
	lf.tmpl = t
	return lf, nil
}

// write prints rows in the format; header is the row whose fields are
// the column names.
func (lf listFormat) write(out io.Writer, header listRow, rows []listRow) error {
	if lf.json {
		// docker's {{json .}}: one object per line, "->" not escaped.
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(rowFields(r)); err != nil {
				return err
			}
		}
		return nil
	}
	// A wrong field fails even when no row runs the template; other
	// errors (an index past the header's values) are the rows' to raise.
	if err := lf.tmpl.Execute(io.Discard, header); err != nil && len(rows) == 0 && strings.Contains(err.Error(), "can't evaluate field") {
		return &usageError{err: fmt.Errorf("%w\nFields: %s", err, strings.Join(fieldNames(header), " "))}
	}
	w := out
	var tw *tabwriter.Writer
	if lf.table {
		tw = tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
		w = tw
		rows = append([]listRow{header}, rows...)
	}
	for _, r := range rows {
		var b bytes.Buffer
		if err := lf.tmpl.Execute(&b, r); err != nil {
			return &usageError{err: fmt.Errorf("%w\nFields: %s", err, strings.Join(fieldNames(header), " "))}
		}
		b.WriteByte('\n')
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

// rowFields is a row as docker's --format json writes it: every field
// without arguments, by name.
func rowFields(r listRow) map[string]string {
	m := map[string]string{}
	v := reflect.ValueOf(r)
	t := v.Type()
	for i := range t.NumMethod() {
		m2 := t.Method(i)
		if m2.Type.NumIn() != 1 || m2.Type.NumOut() != 1 || m2.Type.Out(0).Kind() != reflect.String {
			continue
		}
		m[m2.Name] = v.Method(i).Call(nil)[0].String()
	}
	return m
}

// fieldNames lists a row's template fields: ".ID", `.Label "KEY"`.
func fieldNames(r listRow) []string {
	var out []string
	t := reflect.TypeOf(r)
	for i := range t.NumMethod() {
		m := t.Method(i)
		switch {
		case m.Type.NumIn() == 1 && m.Type.NumOut() == 1:
			out = append(out, "."+m.Name)
		case m.Type.NumIn() == 2 && m.Type.In(1).Kind() == reflect.String:
			out = append(out, "."+m.Name+` "KEY"`)
		}
	}
	sort.Strings(out)
	return out
}

// ellipsis shortens s to n characters, its last one "…", as docker does.
func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
