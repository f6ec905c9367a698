package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
)

// LogEntry is one stored line of output (api.LogEntry), one JSON object
// per line of the file, as docker's json-file driver writes them.
type LogEntry = api.LogEntry

// LogWriter appends a container's output to its log file. Output is cut
// into entries at newlines; a partial line waits for its end (or Close).
// The log rotates as docker's json-file driver's does (api.LogConfig):
// an entry that would take the current file past the size limit starts
// a new one, the older files move to PATH.1, PATH.2 … and the oldest
// beyond the file limit goes. It is safe for concurrent use by the
// stdout and stderr pumps.
type LogWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64 // of f
	maxSize  int64
	maxFiles int
	pending  map[string][]byte
	now      func() time.Time
}

// OpenLog opens (creating, 0600) the log at path for appending, bounded
// by c.
func OpenLog(path string, c api.LogConfig) (*LogWriter, error) {
	w := &LogWriter{path: path, pending: map[string][]byte{}, now: time.Now}
	w.maxSize, w.maxFiles = c.Limits()
	if err := w.open(os.O_APPEND); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *LogWriter) open(flag int) error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|flag, 0o600)
	if err != nil {
		return fmt.Errorf("open container log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open container log: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// rotatedLog is the name of the log's nth older file (0: the current).
func rotatedLog(path string, n int) string {
	if n == 0 {
		return path
	}
	return path + "." + strconv.Itoa(n)
}

// rotate starts a new current file. Renames go oldest first, so a reader
// listing the files sees each file under one name or the next, never
// two files under one name.
func (w *LogWriter) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("rotate container log: %w", err)
	}
	for n := w.maxFiles - 1; n >= 1; n-- {
		if err := os.Rename(rotatedLog(w.path, n-1), rotatedLog(w.path, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate container log: %w", err)
		}
	}
	if w.maxFiles == 1 {
		// Renamed nowhere: the file starts over, and a reader holding
		// it reads on in a file that is gone.
		if err := os.Remove(w.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate container log: %w", err)
		}
	}
	return w.open(os.O_TRUNC)
}

// append writes encoded entries, rotating between them as needed. Each
// entry is whole in one file, so a reader never meets half of one at the
// end of a rotated file.
func (w *LogWriter) append(entries [][]byte) error {
	var batch []byte
	for _, e := range entries {
		if w.size+int64(len(batch)+len(e)) > w.maxSize && w.size+int64(len(batch)) > 0 {
			if err := w.flush(batch); err != nil {
				return err
			}
			batch = batch[:0]
			if err := w.rotate(); err != nil {
				return err
			}
		}
		batch = append(batch, e...)
	}
	return w.flush(batch)
}

func (w *LogWriter) flush(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	return err
}

func encodeEntry(e LogEntry) []byte {
	b, _ := json.Marshal(e)
	return append(b, '\n')
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
	var out [][]byte
	now := w.now().UTC()
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		out = append(out, encodeEntry(LogEntry{Log: string(buf[:i+1]), Stream: stream, Time: now}))
		buf = buf[i+1:]
	}
	// Bound a line that never ends (a progress bar with \r): flush at 16 KiB.
	if len(buf) >= 16<<10 {
		out = append(out, encodeEntry(LogEntry{Log: string(buf), Stream: stream, Time: now}))
		buf = nil
	}
	w.pending[stream] = append([]byte(nil), buf...)
	return w.append(out)
}

// Close writes out partial lines and closes the file.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out [][]byte
	for _, stream := range []string{"stdout", "stderr"} {
		if p := w.pending[stream]; len(p) > 0 {
			out = append(out, encodeEntry(LogEntry{Log: string(p), Stream: stream, Time: w.now().UTC()}))
		}
	}
	w.pending = map[string][]byte{}
	werr := w.append(out)
	return errors.Join(werr, w.f.Close())
}

// LogOptions choose what ReadLogs returns.
type LogOptions struct {
	Tail   int       // only the last Tail entries (0 or less: all)
	Since  time.Time // only entries at or after Since
	Follow bool      // keep reading new entries until done says stop
}

// ReadLogs calls fn for each stored entry of the log at path and its
// rotated files, oldest first. With Follow it then waits for more until
// ctx ends or active returns false (checked after the files have been
// drained, so nothing written before the end is missed), and follows
// the log across rotations: a file that rotated is read to its end, then
// the files that came after it. Entries in files deleted before the
// reader got to them are lost, as with docker.
func ReadLogs(ctx context.Context, path string, opts LogOptions, active func() bool, fn func(LogEntry) error) error {
	files, err := openLogFiles(path, nil)
	if err != nil {
		return err
	}
	r := &logReader{path: path, emit: func(e LogEntry) error {
		if !opts.Since.IsZero() && e.Time.Before(opts.Since) {
			return nil
		}
		return fn(e)
	}}
	defer r.close()
	if opts.Tail > 0 && len(files) > 0 {
		// The last entries, from the newest file back; reading goes on
		// from the end of the newest file.
		var tail []LogEntry
		for i := len(files) - 1; i >= 0 && len(tail) < opts.Tail; i-- {
			es, err := tailEntries(files[i], opts.Tail-len(tail))
			if err != nil {
				closeAll(files)
				return fmt.Errorf("read container log: %w", err)
			}
			tail = append(es, tail...)
		}
		for _, e := range tail {
			if err := r.emit(e); err != nil {
				closeAll(files)
				return err
			}
		}
		closeAll(files[:len(files)-1])
		files = files[len(files)-1:]
	}
	if err := r.readFiles(files); err != nil || !opts.Follow {
		return err
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		stillActive := active == nil || active()
		if err := r.catchUp(); err != nil {
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

// logReader reads a log's files in order; the last one it opened, cur,
// may still grow.
type logReader struct {
	path    string
	emit    func(LogEntry) error
	cur     *os.File
	rd      *bufio.Reader
	partial []byte
}

func (r *logReader) close() {
	if r.cur != nil {
		r.cur.Close()
	}
}

// readFiles reads files (oldest first) to their ends, keeping the last.
// It takes ownership of them.
func (r *logReader) readFiles(files []*os.File) error {
	for i, f := range files {
		r.close()
		r.cur, r.rd, r.partial = f, bufio.NewReaderSize(f, 64<<10), nil
		if err := r.drain(); err != nil {
			closeAll(files[i+1:])
			return err
		}
	}
	return nil
}

// drain emits cur's complete entries; a line without its newline waits
// in partial (a writer may still be adding to it).
func (r *logReader) drain() error {
	if r.rd == nil {
		return nil
	}
	for {
		line, err := r.rd.ReadBytes('\n')
		r.partial = append(r.partial, line...)
		if err != nil {
			return nil
		}
		var e LogEntry
		if jerr := json.Unmarshal(r.partial, &e); jerr == nil {
			if err := r.emit(e); err != nil {
				return err
			}
		}
		r.partial = r.partial[:0]
	}
}

// catchUp drains cur, then the files that replaced it while it rotated,
// until cur is the log's current file.
func (r *logReader) catchUp() error {
	if err := r.drain(); err != nil {
		return err
	}
	var after os.FileInfo
	if r.cur != nil {
		st, err := r.cur.Stat()
		if err != nil {
			return fmt.Errorf("read container log: %w", err)
		}
		if now, err := os.Stat(r.path); err != nil || os.SameFile(st, now) {
			// Still the current file, or between a rotation's renames
			// and its new file (or no log yet): nothing newer to read.
			return nil
		}
		after = st
	}
	files, err := openLogFiles(r.path, after)
	if err != nil {
		return err
	}
	return r.readFiles(files)
}

// openLogFiles opens the log's files, oldest first: PATH.N … PATH.1,
// PATH, or only those newer than after when after is one of them. A
// listing that a rotation shifted while it was being opened (a file is
// no longer under the name it was opened by) is taken again.
func openLogFiles(path string, after os.FileInfo) ([]*os.File, error) {
	for attempt := 0; ; attempt++ {
		if attempt == 100 {
			return nil, fmt.Errorf("open container log: %s keeps changing while it is opened: %w", path, api.ErrUnavailable)
		}
		var names []string
		for n := 0; ; n++ {
			name := rotatedLog(path, n)
			if _, err := os.Lstat(name); err != nil {
				break
			}
			names = append([]string{name}, names...)
		}
		if len(names) == 0 {
			// Not created yet (or between a rotation's renames and its
			// new file, which a follower waits for).
			return nil, nil
		}
		var files []*os.File
		var infos []os.FileInfo
		shifted := false
		for _, name := range names {
			f, err := os.Open(name)
			if errors.Is(err, fs.ErrNotExist) {
				shifted = true
				break
			}
			if err != nil {
				closeAll(files)
				return nil, fmt.Errorf("open container log: %w", err)
			}
			st, err := f.Stat()
			if err != nil {
				f.Close()
				closeAll(files)
				return nil, fmt.Errorf("open container log: %w", err)
			}
			files, infos = append(files, f), append(infos, st)
		}
		for i := 0; i < len(files) && !shifted; i++ {
			now, err := os.Stat(names[i])
			shifted = err != nil || !os.SameFile(now, infos[i])
		}
		if shifted {
			closeAll(files)
			continue
		}
		if after != nil {
			for i, st := range infos {
				if os.SameFile(st, after) {
					closeAll(files[:i+1])
					return files[i+1:], nil
				}
			}
		}
		return files, nil
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
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
