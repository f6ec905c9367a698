package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/paths"
)

// menubarCommand runs the menu-bar app: on macOS the status item Berth.app
// shows, on Linux the same menu as a tray icon on the session bus.
func (a *app) menubarCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "menubar",
		Short: "Run the menu-bar app (a tray icon on Linux)",
		Long: "Run Berth's menu-bar app: containers with start and stop, images and import, network,\n" +
			"this host's capabilities, notifications. On macOS Berth.app runs it when opened. On Linux\n" +
			"it shows the same menu as a StatusNotifierItem tray icon on the session bus\n" +
			"($DBUS_SESSION_BUS_ADDRESS) and posts desktop notifications. It starts the daemon if none\n" +
			"runs; quitting it leaves the daemon and its containers running. One runs per data dir.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.homeDir()
			if err != nil {
				return withCode(ExitUsage, err)
			}
			unlock, err := lockMenuBar(home)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			defer unlock()
			if err := runMenuBar(cmd.Context(), home); err != nil {
				return withCode(ExitUsage, err)
			}
			return nil
		},
	}
}

// lockMenuBar makes this the data dir's one menu-bar app: two would post
// every notification twice.
func lockMenuBar(home string) (func(), error) {
	if err := paths.Prepare(home); err != nil {
		return nil, err
	}
	path := filepath.Join(home, "menubar.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("menu-bar lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("the Berth menu bar already runs for %s: %w", home, api.ErrAlreadyExists)
		}
		return nil, fmt.Errorf("menu-bar lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
