package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/units"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (bars and prompts only then).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bars draws one progress bar per ID (a layer, "rootfs") on a terminal,
// redrawing in place; elsewhere it stays quiet, so scripts see only the
// final result.
type bars struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	rows []*barRow
	byID map[string]*barRow
	// drawn is how many lines the last draw printed.
	drawn int
	last  time.Time
}

type barRow struct {
	id, action, msg string
	cur, total      int64
	done            bool
}

func newBars(w io.Writer) *bars {
	return &bars{w: w, tty: isTerminal(w), byID: map[string]*barRow{}}
}

// update is an api.ProgressFunc.
func (b *bars) update(p api.Progress) {
	if !b.tty {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id := p.ID
	if id == "" {
		id = p.Action
	}
	r := b.byID[id]
	added := r == nil
	if added {
		r = &barRow{id: id}
		b.byID[id] = r
		b.rows = append(b.rows, r)
	}
	r.action, r.msg, r.done = p.Action, p.Message, p.Done
	if p.Total > 0 {
		r.total = p.Total
	}
	if p.Current > 0 || p.Done {
		r.cur = p.Current
	}
	// A new step is always drawn (so a boot shows from its first
	// moment); updates of a step at most ten times a second.
	if !p.Done && !added && time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.drawLocked()
}

// finish draws the final state.
func (b *bars) finish() {
	if !b.tty {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drawLocked()
}

// clear erases what was drawn: for steps whose end needs no record (a
// boot before the container's own output).
func (b *bars) clear() {
	if !b.tty {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn > 0 {
		fmt.Fprintf(b.w, "\x1b[%dA\x1b[J", b.drawn)
		b.drawn = 0
	}
}

func (b *bars) drawLocked() {
	b.last = time.Now()
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	for _, r := range b.rows {
		sb.WriteString("\x1b[2K")
		sb.WriteString(barLine(r))
		sb.WriteByte('\n')
	}
	b.drawn = len(b.rows)
	io.WriteString(b.w, sb.String())
}

// barLine renders "id: action [=====>    ] 12.3 MB / 45.6 MB message".
func barLine(r *barRow) string {
	line := fmt.Sprintf("%-12s %-9s", r.id, r.action)
	switch {
	case r.done && r.msg != "":
		return line + " " + r.msg
	case r.done:
		return line + " done"
	case r.total > 0:
		const width = 30
		n := int(min(r.cur, r.total) * width / r.total)
		bar := strings.Repeat("=", n)
		if n < width {
			bar += ">" + strings.Repeat(" ", width-n-1)
		}
		line += fmt.Sprintf(" [%s] %s / %s", bar, units.Size(r.cur), units.Size(r.total))
	case r.cur > 0:
		line += " " + units.Size(r.cur)
	}
	if r.msg != "" {
		line += " " + r.msg
	}
	return line
}
