package guest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/agent/proto"
	"github.com/berthvm/berth/core/api"
)

// mountVolumes mounts cfg.Mounts over the container's root (mounted by
// mountContainer under dir), then makes the root read-only if asked. It
// returns the mount points to undo, innermost first; on error nothing
// stays mounted.
//
//   - A volume's disk is mounted under dir/volumes; its files live in its
//     data folder (so the file system's lost+found never shows), made on
//     first use from what the image has at the target (Seed) and renamed
//     into place only when whole.
//   - A share (virtio-fs, by tag) is mounted under dir/shares, read-only
//     if asked; Subpath picks the file the container sees.
//   - Both are bind-mounted at the target, which is made (a folder or an
//     empty file, as the source) if the image lacks it.
//   - Read-only binds and the read-only root are applied last, so that
//     a mount inside a read-only one can still make its target.
func mountVolumes(cfg proto.ContainerConfig, root, dir string, trace func(string)) (mounts []string, err error) {
	var done, readOnly []string
	defer func() {
		if err != nil {
			for i := len(done) - 1; i >= 0; i-- {
				_ = unix.Unmount(done[i], unix.MNT_DETACH)
			}
		}
	}()
	mount := func(src, target, fstype string, flags uintptr, data string) error {
		if err := unix.Mount(src, target, fstype, flags, data); err != nil {
			return fmt.Errorf("mount %s (%s) on %s: %w", src, fstype, target, err)
		}
		trace("mounted " + target)
		done = append(done, target)
		return nil
	}
	for _, m := range cfg.Mounts {
		target, err := InRoot(root, m.Target)
		if err != nil {
			return nil, fmt.Errorf("mount at %s: %w", m.Target, err)
		}
		var src string
		switch m.Kind {
		case proto.MountTmpfs:
			flags, data := tmpfsFlags(m.Options)
			if m.ReadOnly {
				flags |= unix.MS_RDONLY
			}
			if err := makeTarget(target, true); err != nil {
				return nil, fmt.Errorf("tmpfs at %s: %w", m.Target, err)
			}
			if err := mount("tmpfs", target, "tmpfs", flags, data); err != nil {
				return nil, err
			}
			continue
		case proto.MountDisk:
			dev, err := blockDevice(m.Device)
			if err != nil {
				return nil, fmt.Errorf("volume at %s: %w", m.Target, err)
			}
			stage := filepath.Join(dir, "volumes", m.Device.Serial)
			if err := os.MkdirAll(stage, 0o755); err != nil {
				return nil, err
			}
			if err := mount(dev, stage, "ext4", unix.MS_NOSUID|unix.MS_NODEV, "noinit_itable"); err != nil {
				return nil, fmt.Errorf("volume at %s (its disk must be ext4): %w", m.Target, err)
			}
			if src, err = volumeData(stage, target, m.Seed); err != nil {
				return nil, fmt.Errorf("volume at %s: %w", m.Target, err)
			}
		case proto.MountShare:
			stage := filepath.Join(dir, "shares", m.Tag)
			if err := os.MkdirAll(stage, 0o755); err != nil {
				return nil, err
			}
			var flags uintptr
			if m.ReadOnly {
				flags = unix.MS_RDONLY
			}
			if err := mount(m.Tag, stage, "virtiofs", flags, ""); err != nil {
				return nil, fmt.Errorf("shared folder at %s: %w", m.Target, err)
			}
			src = stage
			if m.Subpath != "" {
				if strings.Contains(m.Subpath, "/") || m.Subpath == ".." {
					return nil, fmt.Errorf("shared folder at %s: subpath %q is not a plain name: %w", m.Target, m.Subpath, api.ErrInvalidArgument)
				}
				src = filepath.Join(stage, m.Subpath)
			}
		default:
			return nil, fmt.Errorf("mount at %s: unknown kind %q: %w", m.Target, m.Kind, api.ErrInvalidArgument)
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("mount at %s: %w", m.Target, err)
		}
		if err := makeTarget(target, fi.IsDir()); err != nil {
			return nil, fmt.Errorf("mount at %s: %w", m.Target, err)
		}
		if err := mount(src, target, "", unix.MS_BIND, ""); err != nil {
			return nil, err
		}
		if m.ReadOnly {
			readOnly = append(readOnly, target)
		}
	}
	if cfg.ReadOnlyRoot {
		readOnly = append(readOnly, root)
	}
	for i := len(readOnly) - 1; i >= 0; i-- {
		if err := unix.Mount("", readOnly[i], "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return nil, fmt.Errorf("make %s read-only: %w", readOnly[i], err)
		}
	}
	mounts = make([]string, len(done))
	for i := range done {
		mounts[i] = done[len(done)-1-i]
	}
	return mounts, nil
}

// makeTarget makes a mount's target in the root, a folder or an empty
// file like its source, unless it is there already as the same kind.
func makeTarget(target string, dir bool) error {
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir() == dir:
		return nil
	case err == nil && dir:
		return fmt.Errorf("cannot mount a directory onto a file: %w", api.ErrInvalidArgument)
	case err == nil:
		return fmt.Errorf("cannot mount a file onto a directory: %w", api.ErrInvalidArgument)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	case dir:
		return os.MkdirAll(target, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// volumeData returns a mounted volume's data folder, making it on first
// use: owned and moded as the image's folder at target, and (seed) with
// a copy of its content, built aside and renamed into place when whole.
func volumeData(stage, target string, seed bool) (string, error) {
	data := filepath.Join(stage, "data")
	if _, err := os.Lstat(data); err == nil {
		return data, nil
	}
	tmp := filepath.Join(stage, ".data-new")
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	fi, err := os.Stat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(tmp, 0o755); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case !fi.IsDir():
		return "", fmt.Errorf("cannot mount a volume onto a file: %w", api.ErrInvalidArgument)
	case seed:
		if err := copyTree(target, tmp); err != nil {
			return "", fmt.Errorf("copy the image's content into the new volume: %w", err)
		}
	default:
		if err := os.Mkdir(tmp, 0o755); err != nil {
			return "", err
		}
		if err := copyMeta(tmp, fi); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, data); err != nil {
		return "", err
	}
	return data, nil
}

// tmpfsFlags splits a tmpfs's options into mount flags and data.
func tmpfsFlags(options string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range strings.Split(options, ",") {
		switch o {
		case "":
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}
