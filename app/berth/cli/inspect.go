package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/template"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/dockerapi/types"
)

// inspectTyped is docker's inspect object for ref: a container's
// (types.ContainerJSON) or an image's (types.ImageInspect); kind ""
// tries a container, then an image.
func inspectTyped(ctx context.Context, c *client.Client, ref, kind string) (any, error) {
	if kind != "image" {
		ctr, err := c.Container(ctx, ref)
		if err == nil {
			// A removed image leaves docker's Config to the container's own.
			img, _ := c.ImageInspect(ctx, ctr.ImageID)
			return types.Container(ctr, img), nil
		}
		if !errors.Is(err, api.ErrNotFound) {
			return nil, err
		}
		if kind == "container" {
			return nil, fmt.Errorf("no such container: %s: %w", ref, api.ErrNotFound)
		}
	}
	im, err := c.ImageInspect(ctx, ref)
	if err == nil {
		return types.Image(im), nil
	}
	if kind == "image" || !errors.Is(err, api.ErrNotFound) {
		return nil, err
	}
	return nil, fmt.Errorf("no such container or image: %s: %w", ref, api.ErrNotFound)
}

// printInspect prints the objects find returns for refs, as docker
// inspect does: one JSON array (4-space indent), or the template run on
// each. Objects not found are reported on stderr after the others, and
// the exit status is 1.
func (a *app) printInspect(refs []string, format string, find func(ref string) (any, error)) error {
	var tmpl = format
	if format == "json" {
		tmpl = "{{json .}}"
	}
	var objs []any
	var errs []error
	for _, ref := range refs {
		v, err := find(ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, v)
	}
	if len(errs) == 1 && len(refs) == 1 {
		return errs[0]
	}
	if tmpl == "" {
		if objs == nil {
			objs = []any{}
		}
		b, err := json.MarshalIndent(objs, "", "    ")
		if err != nil {
			return err
		}
		b = append(b, '\n')
		if _, err := a.streams.Out.Write(b); err != nil {
			return err
		}
	} else {
		t, err := parseTemplate(tmpl)
		if err != nil {
			return err
		}
		for _, v := range objs {
			if err := inspectTemplate(a.streams.Out, t, v); err != nil {
				return err
			}
		}
	}
	for _, err := range errs {
		fmt.Fprintf(a.streams.Err, "Error: %v\n", err)
	}
	if len(errs) > 0 {
		return &exitError{code: ExitError}
	}
	return nil
}

// inspectTemplate runs t on v and, where that fails, on v's JSON decoded
// as maps, as docker does: so the JSON's own keys work ({{.Id}}), and
// numbers stay exact. It fails listing v's fields.
func inspectTemplate(w io.Writer, t *template.Template, v any) error {
	var b bytes.Buffer
	err := t.Execute(&b, v)
	if err != nil {
		raw, merr := json.Marshal(v)
		if merr != nil {
			return merr
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if derr := dec.Decode(&m); derr != nil {
			return derr
		}
		b.Reset()
		if rerr := t.Execute(&b, m); rerr != nil {
			var keys []string
			for k := range m {
				keys = append(keys, "."+k)
			}
			sort.Strings(keys)
			return fmt.Errorf("%w\nFields: %s", err, strings.Join(keys, " "))
		}
	}
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}
