package hypervisor

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ConsoleMax bounds a VM's console log: a guest (untrusted, and chatty
// when it loops on an error) may write to its console without end. The
// log is PATH while it is under ConsoleMax bytes; then PATH moves to
// PATH.1 and PATH starts over, so the last ConsoleMax to 2*ConsoleMax
// bytes are kept and a crash report still has the tail. The QEMU
// driver copies its console socket through CopyConsole; vz's framework
// writes its console file itself, so on a Mac the log is not bounded yet.
const ConsoleMax = 1 << 20

// CopyConsole appends what r delivers (a VM's console) to the console
// log at path, bounded by limit as ConsoleMax describes, until r ends. It
// returns nil at io.EOF.
func CopyConsole(r io.Reader, path string, limit int64) error {
	w, err := openConsole(path)
	if err != nil {
		return err
	}
	defer func() { w.f.Close() }()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := r.Read(buf)
		if err := w.write(buf[:n], path, limit); err != nil {
			return err
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read the console: %w", rerr)
		}
	}
}

type consoleFile struct {
	f    *os.File
	size int64
}

func openConsole(path string) (*consoleFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the console log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open the console log: %w", err)
	}
	return &consoleFile{f: f, size: st.Size()}, nil
}

// write appends p, starting a new file whenever the current one is full.
func (w *consoleFile) write(p []byte, path string, limit int64) error {
	for len(p) > 0 {
		if w.size >= limit {
			if err := w.f.Close(); err != nil {
				return fmt.Errorf("rotate the console log: %w", err)
			}
			if err := os.Rename(path, path+".1"); err != nil {
				return fmt.Errorf("rotate the console log: %w", err)
			}
			nw, err := openConsole(path)
			if err != nil {
				return err
			}
			*w = *nw
		}
		n := min(int64(len(p)), limit-w.size)
		if _, err := w.f.Write(p[:n]); err != nil {
			return fmt.Errorf("write the console log: %w", err)
		}
		w.size += n
		p = p[n:]
	}
	return nil
}

// ConsoleTail is the last n bytes of the console log at path, reaching
// into PATH.1 when PATH started over recently; "" if there is none.
func ConsoleTail(path string, n int64) string {
	cur, _ := readTail(path, n)
	if int64(len(cur)) < n {
		prev, _ := readTail(path+".1", n-int64(len(cur)))
		cur = append(prev, cur...)
	}
	return string(cur)
}

func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	k, err := f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:k], nil
}

// ClearConsole empties the console log at path (and drops PATH.1): a
// fresh log per boot is that boot's post-mortem.
func ClearConsole(path string) error {
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return fmt.Errorf("clear the console log: %w", err)
	}
	if err := os.Remove(path + ".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clear the console log: %w", err)
	}
	return nil
}
