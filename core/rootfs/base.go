package rootfs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"
	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// MaxBaseDisk bounds a base disk. tar2ext4 reserves group descriptors for
// this size up front (a few KiB), the file itself is only as large as
// the image's content. It is also the default bound on what an image's
// layers unpack to (BuildBaseMax).
const MaxBaseDisk = 256 << 30

// BuildBase is BuildBaseMax with MaxBaseDisk as the bound.
func BuildBase(ctx context.Context, layers []v1.Layer, path string, progress api.ProgressFunc) error {
	return BuildBaseMax(ctx, layers, path, MaxBaseDisk, progress)
}

// BuildBaseMax writes the flattened filesystem of layers (bottom first) as
// a read-only, compact ext4 filesystem (no partition table) at path. The
// layers are streamed: decompressed, merged and written in one pass. The
// disk appears at path only when complete. The layers together may unpack
// to maxUnpacked bytes (<= 0: MaxBaseDisk): past it, a small layer that
// expands enormously (a decompression bomb) fails the build, named,
// before it fills the disk.
func BuildBaseMax(ctx context.Context, layers []v1.Layer, path string, maxUnpacked int64, progress api.ProgressFunc) error {
	if maxUnpacked <= 0 {
		maxUnpacked = MaxBaseDisk
	}
	var total int64
	for _, l := range layers {
		if n, err := l.Size(); err == nil {
			total += n
		}
	}
	tmp, err := atomicfile.Create(path, 0o444)
	if err != nil {
		return fmt.Errorf("base disk: %w", err)
	}
	defer tmp.Abort()

	var done atomic.Int64
	last := time.Now()
	onRead := func(n int64) {
		cur := done.Add(n)
		if time.Since(last) >= 100*time.Millisecond {
			last = time.Now()
			progress.Report(api.Progress{ID: "rootfs", Action: "build", Current: cur, Total: total})
		}
	}

	pr, pw := io.Pipe()
	flatErr := make(chan error, 1)
	go func() {
		// A buffered writer batches the many small tar writes, so the two
		// sides of the pipe meet rarely.
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := flatten(ctx, layers, bw, onRead, maxUnpacked)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		flatErr <- err
	}()
	convErr := tar2ext4.ConvertTarToExt4(bufio.NewReaderSize(pr, 1<<20), tmp.File, tar2ext4.MaximumDiskSize(MaxBaseDisk))
	pr.CloseWithError(errors.New("base disk writer stopped"))
	if ferr := <-flatErr; ferr != nil {
		return fmt.Errorf("base disk: %w", ferr)
	}
	if convErr != nil {
		return fmt.Errorf("base disk: write ext4: %w", convErr)
	}
	if err := fixInodeBitmapPadding(tmp.File); err != nil {
		return fmt.Errorf("base disk: %w", err)
	}
	if err := tmp.Commit(); err != nil {
		return fmt.Errorf("base disk: %w", err)
	}
	progress.Report(api.Progress{ID: "rootfs", Action: "build", Current: total, Total: total, Done: true})
	return nil
}
