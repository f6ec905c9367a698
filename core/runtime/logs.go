package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/berthvm/berth/core/api"
	"io"
	"os"
	"sync"
	"time"
)

// LogEntry is one stored line of output (api.LogEntry), one JSON object
// per line of the file, as docker's json-file driver writes them.
type LogEntry = api.LogEntry

// LogWriter appends a container's output to its log file. Output is cut
// into entries at newlines; a partial line waits for its end (or Close).
// It is safe for concurrent use by the stdout and stderr pumps.
type LogWriter struct {
	mu      sync.Mutex
	f       *os.File
	pending map[string][]byte
	now     func() time.Time
}

// OpenLog opens (creating, 0600) the log at path for appending.
func OpenLog(path string) (*LogWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open container log: %w", err)
	}
	return &LogWriter{f: f, pending: map[string][]byte{}, now: time.Now}, nil
}

// Stream returns an io.Writer for one stream ("stdout" or "stderr").
func (w *LogWriter) Stream(name string) io.Writer {
	return writerFunc(func(p []byte) (int, error) { return len(p), w.write(name, p) })
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (w *LogWriter) write(stream string, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf := append(w.pending[stream], p...)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	now := w.now().UTC()
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		enc.Encode(LogEntry{Log: string(buf[:i+1]), Stream: stream, Time: now})
		buf = buf[i+1:]
	}
	// Bound a line that never ends (a progress bar with \r): flush at 16 KiB.
	if len(buf) >= 16<<10 {
		enc.Encode(LogEntry{Log: string(buf), Stream: stream, Time: now})
		buf = nil
	}
	w.pending[stream] = append([]byte(nil), buf...)
	if out.Len() == 0 {
		return nil
	}
	_, err := w.f.Write(out.Bytes())
	return err
}

// Close writes out partial lines and closes the file.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	for _, stream := range []string{"stdout", "stderr"} {
		if p := w.pending[stream]; len(p) > 0 {
			enc.Encode(LogEntry{Log: string(p), Stream: stream, Time: w.now().UTC()})
		}
	}
	w.pending = map[string][]byte{}
	_, werr := w.f.Write(out.Bytes())
	return errors.Join(werr, w.f.Close())
}

// LogOptions choose what ReadLogs returns.
type LogOptions struct {
	Tail   int       // only the last Tail entries (0 or less: all)
	Since  time.Time // only entries at or after Since
	Follow bool      // keep reading new entries until done says stop
}

// ReadLogs calls fn for each stored entry of the log at path. With Follow
// it then waits for more until ctx ends or active returns false (checked
// after the file has been drained, so nothing written before the end is
// missed).
func ReadLogs(ctx context.Context, path string, opts LogOptions, active func() bool, fn func(LogEntry) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		f, err = nil, nil // no output yet
	}
	if err != nil {
		return fmt.Errorf("open container log: %w", err)
	}
	if f != nil {
		defer f.Close()
	}
	emit := func(e LogEntry) error {
		if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
			return nil
		}
		return fn(e)
	}

	var rd *bufio.Reader
	if f != nil {
		if opts.Tail > 0 {
			entries, err := tailEntries(f, opts.Tail)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := emit(e); err != nil {
					return err
				}
			}
		}
		rd = bufio.NewReaderSize(f, 64<<10)
	}
	var partial []byte
	drain := func() error {
		if rd == nil {
			return nil
		}
		for {
			line, err := rd.ReadBytes('\n')
			partial = append(partial, line...)
			if err != nil {
				return nil // EOF: a writer may still be adding this line
			}
			var e LogEntry
			if jerr := json.Unmarshal(partial, &e); jerr == nil {
				if err := emit(e); err != nil {
					return err
				}
			}
			partial = partial[:0]
		}
	}
	if err := drain(); err != nil || !opts.Follow {
		return err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		stillActive := active == nil || active()
		if rd == nil {
			if f, err = os.Open(path); err == nil {
				defer f.Close()
				rd = bufio.NewReaderSize(f, 64<<10)
			}
		}
		if err := drain(); err != nil {
			return err
		}
		if !stillActive {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// tailEntries returns the last n entries and leaves f positioned after
// them. It reads backwards in blocks, so a large log is not read whole.
func tailEntries(f *os.File, n int) ([]LogEntry, error) {
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	const block = 64 << 10
	var buf []byte
	pos := end
	for pos > 0 && bytes.Count(buf, []byte{'\n'}) <= n {
		step := int64(block)
		if pos < step {
			step = pos
		}
		pos -= step
		chunk := make([]byte, step)
		if _, err := f.ReadAt(chunk, pos); err != nil {
			return nil, err
		}
		buf = append(chunk, buf...)
	}
	lines := bytes.Split(bytes.TrimRight(buf, "\n"), []byte{'\n'})
	if pos > 0 && len(lines) > 0 {
		lines = lines[1:] // the first line may be cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]LogEntry, 0, len(lines))
	for _, l := range lines {
		var e LogEntry
		if json.Unmarshal(l, &e) == nil {
			out = append(out, e)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return nil, err
	}
	return out, nil
}
