package presenter

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/ui/viewmodel"
)

var goos = runtime.GOOS

// failedJobShown is how long a failed action stays in the menu.
const failedJobShown = 30 * time.Second

// Perform implements viewmodel.Model: the action runs on its own goroutine;
// a failure is shown in the menu and notified.
func (p *Presenter) Perform(a viewmodel.Action) {
	go func() {
		if err := p.Do(context.Background(), a); err != nil {
			p.log.Warn("menu action failed", "action", a.String(), "err", err)
		}
	}()
}

// Drop implements viewmodel.Model: each dropped path is imported.
func (p *Presenter) Drop(paths []string) {
	p.Perform(viewmodel.Action{Verb: viewmodel.VerbImport, Paths: paths})
}

// Do carries out a, returning when it is done (`berth menu --click` and
// tests wait for it; the menu does not).
func (p *Presenter) Do(ctx context.Context, a viewmodel.Action) error {
	switch a.Verb {
	case viewmodel.VerbStart:
		return p.job(ctx, "start/"+a.Target, "Start "+p.name(a.Target), func(ctx context.Context, d Daemon, progress func(string)) error {
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, a.Target, false) })
			_, err := d.StartContainer(ctx, a.Target, func(pr api.Progress) { progress(progressText(pr)) })
			return err
		})
	case viewmodel.VerbStop:
		return p.job(ctx, "stop/"+a.Target, "Stop "+p.name(a.Target), func(ctx context.Context, d Daemon, _ func(string)) error {
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, a.Target, true) })
			_, err := d.StopContainer(ctx, a.Target, p.cfg.StopTimeout, "")
			return err
		})
	case viewmodel.VerbKill:
		return p.job(ctx, "kill/"+a.Target, "Kill "+p.name(a.Target), func(ctx context.Context, d Daemon, _ func(string)) error {
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, a.Target, true) })
			return d.KillContainer(ctx, a.Target, "KILL")
		})
	case viewmodel.VerbRestart:
		return p.job(ctx, "restart/"+a.Target, "Restart "+p.name(a.Target), func(ctx context.Context, d Daemon, progress func(string)) error {
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, a.Target, true) })
			if _, err := d.StopContainer(ctx, a.Target, p.cfg.StopTimeout, ""); err != nil {
				return err
			}
			p.update(func(st *viewmodel.State) { st.Asked = with(st.Asked, a.Target, false) })
			_, err := d.StartContainer(ctx, a.Target, func(pr api.Progress) { progress(progressText(pr)) })
			return err
		})
	case viewmodel.VerbRemove:
		return p.job(ctx, "remove/"+a.Target, "Remove "+p.name(a.Target), func(ctx context.Context, d Daemon, _ func(string)) error {
			return d.RemoveContainer(ctx, a.Target, api.RemoveOptions{})
		})
	case viewmodel.VerbRunDemo:
		return p.job(ctx, "run-demo", "Run the demo container", func(ctx context.Context, d Daemon, progress func(string)) error {
			c, err := d.CreateContainer(ctx, api.ContainerSpec{Image: "berth/demo"})
			if err != nil {
				return err
			}
			_, err = d.StartContainer(ctx, c.ID, func(pr api.Progress) { progress(progressText(pr)) })
			return err
		})
	case viewmodel.VerbLogs:
		return p.effect(a, func(e viewmodel.Effects) error {
			return e.OpenTerminal("Logs of "+p.name(a.Target), p.berth("logs", "-f", a.Target))
		})
	case viewmodel.VerbShell:
		return p.effect(a, func(e viewmodel.Effects) error {
			return e.OpenTerminal("Shell in "+p.name(a.Target), p.berth("exec", "-it", a.Target, "sh"))
		})
	case viewmodel.VerbCopyIP:
		c, ok := p.State().Container(a.Target)
		if !ok || c.IPAddress == "" {
			return p.fail(a, fmt.Errorf("container %s has no IP address: is it running?: %w", a.Target, api.ErrConflict))
		}
		return p.effect(a, func(e viewmodel.Effects) error { return e.CopyText(c.IPAddress) })
	case viewmodel.VerbImport:
		return p.importPaths(ctx, a.Paths)
	case viewmodel.VerbStartDaemon:
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return nil
	case viewmodel.VerbOpenData:
		return p.effect(a, func(e viewmodel.Effects) error { return e.OpenPath(p.cfg.Home) })
	case viewmodel.VerbOpenLog:
		return p.effect(a, func(e viewmodel.Effects) error { return e.OpenPath(paths.DaemonLog(p.cfg.Home)) })
	case viewmodel.VerbInstallRosetta:
		return p.effect(a, func(e viewmodel.Effects) error {
			return e.OpenTerminal("Install Rosetta", []string{"softwareupdate", "--install-rosetta", "--agree-to-license"})
		})
	case viewmodel.VerbToggleLogin:
		return p.effect(a, func(e viewmodel.Effects) error {
			on := e.LoginItem() != viewmodel.LoginOn
			err := e.SetLoginItem(on)
			p.update(func(st *viewmodel.State) { st.Login = e.LoginItem() })
			return err
		})
	case viewmodel.VerbToggleNote:
		k := viewmodel.NoteKind(a.Target)
		p.mu.Lock()
		off := !p.st.NotesOff[k]
		p.settings.setNoteOff(k, off)
		p.st.NotesOff = p.settings.notesOff()
		s := p.settings
		p.mu.Unlock()
		p.changed()
		return s.save(p.cfg.Home)
	case viewmodel.VerbQuit:
		return p.quit()
	case viewmodel.VerbQuitStopAll:
		if err := p.stopAll(ctx); err != nil {
			return err
		}
		return p.quit()
	}
	return fmt.Errorf("unknown menu action %q: %w", a.Verb, api.ErrInvalidArgument)
}

// berth is argv for a berth command on this data dir.
func (p *Presenter) berth(args ...string) []string {
	return append([]string{p.cfg.Executable, "--home", p.cfg.Home}, args...)
}

// name is a container's name for titles, else its short id.
func (p *Presenter) name(id string) string {
	if c, ok := p.State().Container(id); ok {
		return c.Name
	}
	return api.ShortID(id)
}

// job runs fn against the daemon with a row in the menu's Activity
// section; a failure stays there for a while and is notified.
func (p *Presenter) job(ctx context.Context, id, title string, fn func(ctx context.Context, d Daemon, progress func(string)) error) error {
	d, err := p.daemon()
	if err != nil {
		return p.failJob(id, title, err)
	}
	p.setJob(viewmodel.Job{ID: id, Title: title})
	err = fn(ctx, d, func(progress string) {
		p.setJob(viewmodel.Job{ID: id, Title: title, Progress: progress})
	})
	if err != nil {
		return p.failJob(id, title, err)
	}
	p.dropJob(id)
	return nil
}

func (p *Presenter) setJob(j viewmodel.Job) {
	p.update(func(st *viewmodel.State) {
		for i := range st.Jobs {
			if st.Jobs[i].ID == j.ID {
				jobs := append([]viewmodel.Job(nil), st.Jobs...)
				jobs[i] = j
				st.Jobs = jobs
				return
			}
		}
		st.Jobs = append(append([]viewmodel.Job(nil), st.Jobs...), j)
	})
}

func (p *Presenter) dropJob(id string) {
	p.update(func(st *viewmodel.State) {
		var jobs []viewmodel.Job
		for _, j := range st.Jobs {
			if j.ID != id {
				jobs = append(jobs, j)
			}
		}
		st.Jobs = jobs
	})
}

func (p *Presenter) failJob(id, title string, err error) error {
	msg := userText(err)
	p.setJob(viewmodel.Job{ID: id, Title: title, Failed: msg})
	time.AfterFunc(failedJobShown, func() { p.dropJob(id) })
	p.note(viewmodel.Note{Kind: viewmodel.NoteAction, Key: "action/" + id, Failed: true, Title: title + " failed", Body: msg})
	return fmt.Errorf("%s: %w", strings.ToLower(title), err)
}

// effect asks the platform for something; a failure is notified.
func (p *Presenter) effect(a viewmodel.Action, fn func(viewmodel.Effects) error) error {
	if p.cfg.Effects == nil {
		return p.fail(a, fmt.Errorf("no platform to %s: %w", a.Verb, api.ErrUnsupported))
	}
	if err := fn(p.cfg.Effects); err != nil {
		return p.fail(a, err)
	}
	return nil
}

func (p *Presenter) fail(a viewmodel.Action, err error) error {
	p.note(viewmodel.Note{Kind: viewmodel.NoteAction, Key: "action/" + string(a.Verb), Failed: true,
		Title: "Could not " + strings.ReplaceAll(string(a.Verb), "-", " "), Body: userText(err)})
	return err
}

// userText is an error as a person reads it: without the sentinel's
// trailing ": unavailable".
func userText(err error) string {
	s := err.Error()
	for _, e := range []error{api.ErrUnavailable, api.ErrNotFound, api.ErrConflict, api.ErrInvalidArgument,
		api.ErrUnsupported, api.ErrCanceled, api.ErrCorrupt, api.ErrAlreadyExists} {
		if errors.Is(err, e) {
			s = strings.TrimSuffix(s, ": "+e.Error())
		}
	}
	return s
}

func progressText(pr api.Progress) string {
	switch {
	case pr.Total > 0:
		return fmt.Sprintf("%d%%", 100*pr.Current/pr.Total)
	case pr.Action != "":
		return pr.Action
	}
	return ""
}

// importPaths imports each path that is an image, as its own job; anything
// else is refused with a note that says why. With no paths it asks the
// user for files.
func (p *Presenter) importPaths(ctx context.Context, paths []string) error {
	if len(paths) == 0 {
		if p.cfg.Effects == nil {
			return fmt.Errorf("no platform to pick files: %w", api.ErrUnsupported)
		}
		picked, err := p.cfg.Effects.PickFiles("Import images (docker save archives, OCI archives or layouts)")
		if err != nil {
			return p.fail(viewmodel.Action{Verb: viewmodel.VerbImport}, err)
		}
		paths = picked
	}
	var wg sync.WaitGroup
	errs := make([]error, len(paths))
	for i, path := range paths {
		base := filepath.Base(path)
		kind, err := Classify(path)
		if err != nil {
			errs[i] = err
			p.note(viewmodel.Note{Kind: viewmodel.NoteImage, Key: "import/" + path, Failed: true,
				Title: base + " was not imported", Body: userText(err)})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.job(ctx, "import/"+path, "Import "+base, func(ctx context.Context, d Daemon, progress func(string)) error {
				progress(string(kind))
				_, err := d.ImageLoad(ctx, api.ImageLoadRequest{Path: path}, func(pr api.Progress) { progress(progressText(pr)) })
				return err
			})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// stopAll stops every active container, all at once.
func (p *Presenter) stopAll(ctx context.Context) error {
	var ids []string
	for _, c := range p.State().Containers {
		if c.State.Active() {
			ids = append(ids, c.ID)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Do(ctx, viewmodel.Action{Verb: viewmodel.VerbStop, Target: id})
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Presenter) quit() error {
	p.mu.Lock()
	p.quitting = true
	p.mu.Unlock()
	if p.cfg.Effects != nil {
		p.cfg.Effects.Quit()
	}
	return nil
}
