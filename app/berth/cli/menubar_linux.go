package cli

import (
	"context"

	"github.com/berthvm/berth/ui/presenter"
	"github.com/berthvm/berth/ui/tray"
)

// runMenuBar serves the menu as a tray icon on the session bus until the
// user quits it (or ctx ends).
func runMenuBar(ctx context.Context, home string) error {
	t, err := tray.New(tray.Options{AppName: "Berth"})
	if err != nil {
		return err
	}
	defer t.Close()
	p := presenter.New(presenter.Config{Home: home, Effects: t})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.Run(ctx, true)
	return t.Serve(ctx, p)
}
