// Package paths names the files and directories of a Berth data dir. Every
// process that touches a data dir (daemon, CLI, menu-bar app) agrees on them
// through this package; it does no I/O beyond reading the environment, and
// Prepare, which makes the data dir and checks it can be written.
package paths

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/berthvm/berth/core/api"
)

// EnvHome overrides the data dir on every platform (tests use it).
const EnvHome = "BERTH_HOME"

// Home returns the data dir: $BERTH_HOME, else ~/Library/Application
// Support/Berth on macOS, else $XDG_DATA_HOME/berth (default
// ~/.local/share/berth). The path is made absolute.
func Home() (string, error) {
	return home(os.Getenv, os.UserHomeDir, runtime.GOOS)
}

func home(getenv func(string) string, userHome func() (string, error), goos string) (string, error) {
	if h := getenv(EnvHome); h != "" {
		return filepath.Abs(h)
	}
	if goos != "darwin" {
		if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
			return filepath.Join(x, "berth"), nil
		}
	}
	u, err := userHome()
	if err != nil || u == "" {
		return "", errors.New("cannot find the home directory for the data dir; set " + EnvHome)
	}
	if goos == "darwin" {
		return filepath.Join(u, "Library", "Application Support", "Berth"), nil
	}
	return filepath.Join(u, ".local", "share", "berth"), nil
}

// Layout of a data dir.
func Socket(home string) string { return filepath.Join(home, "berth.sock") }

// DockerSocket is where the daemon serves the Docker Engine API.
func DockerSocket(home string) string { return filepath.Join(home, "docker.sock") }
func Database(home string) string     { return filepath.Join(home, "berth.db") }
func PIDFile(home string) string      { return filepath.Join(home, "berth.pid") }
func DaemonLog(home string) string    { return filepath.Join(home, "daemon.log") }

// VolumesDir holds one folder per named volume (core/volume owns it:
// anything in it without a volume record is a crash's leftover).
func VolumesDir(home string) string { return filepath.Join(home, "volumes") }

// VolumeDisk is a named volume's disk image: a sparse ext4 file.
func VolumeDisk(home, name string) string { return filepath.Join(VolumesDir(home), name, "disk.ext4") }

// Prepare makes the data dir (0700) if needed and proves it writable,
// with an error that says what to do when it is not.
func Prepare(home string) error {
	if home == "" || !filepath.IsAbs(home) {
		return fmt.Errorf("data dir %q must be an absolute path: %w", home, api.ErrInvalidArgument)
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("data dir %q cannot be created (%v); set %s to a writable directory: %w",
			home, unwrapPathError(err), EnvHome, api.ErrInvalidArgument)
	}
	f, err := os.CreateTemp(home, ".probe-*")
	if err != nil {
		return fmt.Errorf("data dir %q is not writable (%v); fix its permissions or set %s to a writable directory: %w",
			home, unwrapPathError(err), EnvHome, api.ErrInvalidArgument)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// Tightened is a directory Secure made private, with its mode before.
type Tightened struct {
	Path string
	Was  os.FileMode
}

// Secure makes the data dir and the directories directly in it 0700 if
// any group or other permission bit is set: they hold every image's disk,
// the containers' disks and logs, and the sockets. A data dir made by an
// older Berth, or by hand with the user's umask, would otherwise let other
// users read them. Symbolic links are not followed. It returns what it
// changed, for the daemon to log.
func Secure(home string) ([]Tightened, error) {
	var out []Tightened
	tighten := func(path string) error {
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		if !fi.IsDir() || fi.Mode().Perm()&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(path, 0o700); err != nil {
			return err
		}
		out = append(out, Tightened{Path: path, Was: fi.Mode().Perm()})
		return nil
	}
	if err := tighten(home); err != nil {
		return out, fmt.Errorf("make data dir %q private: %w", home, err)
	}
	entries, err := os.ReadDir(home)
	if err != nil {
		return out, fmt.Errorf("make data dir %q private: %w", home, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := tighten(filepath.Join(home, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return out, fmt.Errorf("make data dir %q private: %w", home, err)
		}
	}
	return out, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
