package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/ui/presenter"
	"github.com/berthvm/berth/ui/viewmodel"
)

// menuCommand prints the menu-bar app's menu as text: the same tree the
// app shows (for scripts, support, and a look without a desktop), and
// clicks an item of it.
func (a *app) menuCommand() *cobra.Command {
	var ids bool
	var clicks []string
	cmd := &cobra.Command{
		Use:   "menu [--ids] [--click ID]...",
		Short: "Print the menu-bar menu as text, or click an item of it",
		Long: "Print the menu of Berth's menu-bar app as it would show now, as an indented tree: the same\n" +
			"items, built from the same state. --ids adds each clickable item's id; --click ID carries\n" +
			"out that item (as the app would, waiting for it to finish) and prints the menu after.\n" +
			"Unlike other commands, it does not start the daemon: a stopped daemon shows as such.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := a.homeDir()
			if err != nil {
				return withCode(ExitUsage, err)
			}
			p := presenter.New(presenter.Config{Home: home, Effects: textEffects{w: a.streams.Err}})
			ctx := cmd.Context()
			if err := p.Connect(ctx, false); err != nil {
				return withCode(ExitUsage, err)
			}
			defer p.Close()
			for _, id := range clicks {
				it, ok := p.Menu().Find(id)
				switch {
				case !ok:
					return withCode(ExitUsage, fmt.Errorf("no menu item %q; see the ids with berth menu --ids: %w", id, api.ErrNotFound))
				case it.Action == nil || !it.Enabled:
					return withCode(ExitUsage, fmt.Errorf("menu item %q (%s) cannot be clicked now: %w", id, it.Title, api.ErrConflict))
				}
				if err := p.Do(ctx, *it.Action); err != nil {
					return withCode(ExitUsage, err)
				}
				if err := p.Refresh(ctx); err != nil {
					return withCode(ExitUsage, err)
				}
			}
			fmt.Fprint(a.streams.Out, p.Menu().Text(ids))
			return nil
		},
	}
	cmd.Flags().BoolVar(&ids, "ids", false, "show each clickable item's id")
	cmd.Flags().StringArrayVar(&clicks, "click", nil, "click the item with this id (repeatable)")
	return cmd
}

// textEffects are the platform for `berth menu`: it says what the app
// would do instead of doing it.
type textEffects struct{ w io.Writer }

func (e textEffects) Notify(n viewmodel.Note) {
	fmt.Fprintf(e.w, "notification: %s: %s\n", n.Title, strings.ReplaceAll(n.Body, "\n", " "))
}

func (e textEffects) OpenTerminal(title string, argv []string) error {
	fmt.Fprintf(e.w, "%s: run %s\n", title, strings.Join(argv, " "))
	return nil
}

func (e textEffects) CopyText(s string) error {
	fmt.Fprintln(e.w, s)
	return nil
}

func (e textEffects) OpenPath(path string) error {
	fmt.Fprintln(e.w, path)
	return nil
}

func (e textEffects) PickFiles(string) ([]string, error) {
	return nil, fmt.Errorf("no file picker here: import with berth image load -i FILE: %w", api.ErrUnsupported)
}

func (e textEffects) LoginItem() viewmodel.LoginStatus { return viewmodel.LoginUnavailable }

func (e textEffects) SetLoginItem(bool) error {
	return fmt.Errorf("launch at login is the menu-bar app's setting: %w", api.ErrUnsupported)
}

func (e textEffects) Quit() {}
