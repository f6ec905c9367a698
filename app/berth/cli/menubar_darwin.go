package cli

import (
	"context"

	"github.com/berthvm/berth/ui/menubar"
	"github.com/berthvm/berth/ui/presenter"
)

// runMenuBar shows the status item until the user quits it (or ctx ends).
// It runs on the main goroutine, whose thread ui/menubar locked at init:
// AppKit runs only there.
func runMenuBar(ctx context.Context, home string) error {
	app := menubar.New(menubar.Options{AppName: "Berth"})
	p := presenter.New(presenter.Config{Home: home, Effects: app})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go p.Run(ctx, true)
	return app.Run(ctx, p)
}
