package cli

import (
	"errors"
	"log/slog"
	"os"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/buildinfo"
	"github.com/berthvm/berth/core/daemon"
	"github.com/spf13/cobra"
)

func (a *app) daemonCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "daemon",
		Short: "Run the Berth core service in the foreground",
		Long: "Run the Berth core service in the foreground. Other berth commands start it in the\n" +
			"background when it is not running, so you rarely need this.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.homeDir()
			if err != nil {
				return err
			}
			level := slog.LevelInfo
			if a.debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			slog.SetDefault(log)
			err = daemon.Run(cmd.Context(), daemon.Config{Home: home, Version: buildinfo.Get(), Logger: log})
			if errors.Is(err, daemon.ErrDataDirBusy) {
				return withCode(api.ExitDataDirBusy, err)
			}
			return err
		},
	}
}
