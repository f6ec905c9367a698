package kernel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
)

// DownloadOptions say what Download fetches and how.
type DownloadOptions struct {
	// URLs are mirrors of the same file, tried in order.
	URLs []string
	// SHA256 (hex) pins the file: nothing that does not match is kept.
	SHA256 string
	// Size in bytes, if known: a shorter body is a cut to resume, a
	// longer partial file is discarded.
	Size int64
	// Dest is where the verified file ends up; Dest+".partial" collects
	// the bytes until then, so an interrupted download resumes.
	Dest string
	// Progress hears "download" reports (bytes) under ProgressID, then
	// one "verify".
	Progress   api.ProgressFunc
	ProgressID string
	// Client defaults to one with a connect timeout and no overall
	// timeout (the file is large; ctx bounds the whole).
	Client *http.Client
	// Attempts per URL when the connection breaks mid-body, each
	// resuming where the last stopped; default 3.
	Attempts int
}

// PartialSuffix names the file a download collects its bytes in.
const PartialSuffix = ".partial"

var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
	IdleConnTimeout:       30 * time.Second,
}}

// Download fetches a pinned file to opts.Dest: it resumes a partial file
// left by an earlier attempt (HTTP Range), checks the sha256 before the
// file takes its final name, and leaves an existing good Dest untouched
// on any failure. A file already at Dest with the pinned sha256 is not
// fetched again.
func Download(ctx context.Context, opts DownloadOptions) error {
	if len(opts.URLs) == 0 || opts.Dest == "" {
		return fmt.Errorf("download: no URL or destination: %w", api.ErrInvalidArgument)
	}
	if !isSHA256(opts.SHA256) {
		return fmt.Errorf("download %s: pinned sha256 %q is not 64 hex digits: %w", opts.URLs[0], opts.SHA256, api.ErrInvalidArgument)
	}
	if opts.Client == nil {
		opts.Client = defaultClient
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.ProgressID == "" {
		opts.ProgressID = filepath.Base(opts.Dest)
	}
	if _, err := os.Stat(opts.Dest); err == nil {
		if VerifyFile(opts.Dest, opts.SHA256) == nil {
			opts.Progress.Report(api.Progress{ID: opts.ProgressID, Action: "download", Done: true, Message: "already downloaded"})
			return nil
		}
		// A bad file at Dest is replaced only once a good one is in hand.
	}
	if err := os.MkdirAll(filepath.Dir(opts.Dest), 0o755); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	partial := opts.Dest + PartialSuffix
	var errs []string
	for _, u := range opts.URLs {
		err := downloadFrom(ctx, opts, u, partial)
		if err == nil {
			return finishDownload(opts, partial)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("download %s: %w: %w", u, ctx.Err(), api.ErrCanceled)
		}
		slog.Warn("download failed, trying the next mirror", "url", u, "err", err)
		errs = append(errs, err.Error())
	}
	// The partial file stays: the next attempt resumes it.
	return fmt.Errorf("download %s failed from every mirror (%s); check the network connection, or use a kernel you have with --kernel PATH or berth system kernel set PATH: %w",
		filepath.Base(opts.Dest), strings.Join(errs, "; "), api.ErrUnavailable)
}

// downloadFrom fills partial from one URL, resuming after cuts.
func downloadFrom(ctx context.Context, opts DownloadOptions, url, partial string) error {
	var last error
	for attempt := 0; attempt < opts.Attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		before := fileSize(partial)
		err := fetchOnce(ctx, opts, url, partial)
		if err == nil {
			return nil
		}
		last = err
		var perm permanentError
		if errors.As(err, &perm) {
			return err
		}
		if fileSize(partial) <= before && attempt > 0 {
			// Two attempts in a row without a byte: the mirror is down.
			return err
		}
	}
	return last
}

// permanentError is a failure that retrying the same URL cannot fix.
type permanentError struct{ error }

func fetchOnce(ctx context.Context, opts DownloadOptions, url, partial string) error {
	off := fileSize(partial)
	if opts.Size > 0 && off > opts.Size {
		off = 0 // not ours: start over
	}
	if opts.Size > 0 && off == opts.Size {
		return nil // complete; the hash decides
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return permanentError{fmt.Errorf("%s: %w", url, err)}
	}
	if off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && off > 0:
		if start := rangeStart(resp.Header.Get("Content-Range")); start != off {
			return permanentError{fmt.Errorf("%s: asked for bytes from %d, got a range from %d", url, off, start)}
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		// A server that ignores Range sends the whole file again.
		off = 0
		flags |= os.O_TRUNC
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && off > 0:
		// The partial is at least as long as the file: let the hash judge
		// it, and start over if it is wrong.
		return nil
	default:
		err := fmt.Errorf("%s: HTTP %s", url, resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 {
			return permanentError{err}
		}
		return err
	}
	total := opts.Size
	if total == 0 && resp.ContentLength > 0 {
		total = off + resp.ContentLength
	}
	f, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return permanentError{fmt.Errorf("download: %w", err)}
	}
	pw := &progressWriter{f: f, n: off, total: total, report: opts.Progress, id: opts.ProgressID}
	_, cerr := io.Copy(pw, resp.Body)
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	pw.flush()
	if cerr != nil {
		return fmt.Errorf("%s: cut after %d bytes: %w", url, pw.n, cerr)
	}
	if opts.Size > 0 && pw.n < opts.Size {
		return fmt.Errorf("%s: cut after %d of %d bytes", url, pw.n, opts.Size)
	}
	return nil
}

// finishDownload verifies partial and gives it its final name.
func finishDownload(opts DownloadOptions, partial string) error {
	opts.Progress.Report(api.Progress{ID: opts.ProgressID, Action: "verify", Message: "sha256"})
	if err := VerifyFile(partial, opts.SHA256); err != nil {
		// Resuming a wrong file can never make it right.
		_ = os.Remove(partial)
		return fmt.Errorf("download %s: the file does not match its pinned sha256 (a broken mirror or a tampered file); nothing was kept, try again later: %w", filepath.Base(opts.Dest), err)
	}
	// Not atomicfile: the .partial file is the resume point across attempts, and the hash has just vouched for it.
	if err := os.Rename(partial, opts.Dest); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	opts.Progress.Report(api.Progress{ID: opts.ProgressID, Action: "verify", Done: true})
	return nil
}

func rangeStart(contentRange string) int64 {
	// "bytes 100-199/200"
	s, ok := strings.CutPrefix(contentRange, "bytes ")
	if !ok {
		return -1
	}
	s, _, _ = strings.Cut(s, "-")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// progressWriter reports bytes written, at most every 256 KiB or 100 ms.
type progressWriter struct {
	f        *os.File
	n, total int64
	report   api.ProgressFunc
	id       string
	last     time.Time
	lastN    int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.n += int64(n)
	if p.n-p.lastN >= 256<<10 || time.Since(p.last) >= 100*time.Millisecond {
		p.flush()
	}
	return n, err
}

func (p *progressWriter) flush() {
	p.last, p.lastN = time.Now(), p.n
	p.report.Report(api.Progress{ID: p.id, Action: "download", Current: p.n, Total: p.total,
		Done: p.total > 0 && p.n >= p.total})
}
