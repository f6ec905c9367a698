package presenter

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/ui/viewmodel"
)

// settingsFile holds the menu-bar app's own settings in the data dir.
const settingsFile = "menubar.json"

// settings are the app's choices that the daemon does not keep.
type settings struct {
	NotesOff []viewmodel.NoteKind `json:"notificationsOff,omitempty"`
}

func loadSettings(home string, log *slog.Logger) settings {
	var s settings
	b, err := os.ReadFile(filepath.Join(home, settingsFile))
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			log.Warn("read menu-bar settings", "err", err)
		}
		return s
	}
	if err := json.Unmarshal(b, &s); err != nil {
		log.Warn("menu-bar settings are unreadable; using the defaults", "file", filepath.Join(home, settingsFile), "err", err)
		return settings{}
	}
	return s
}

func (s settings) notesOff() map[viewmodel.NoteKind]bool {
	m := map[viewmodel.NoteKind]bool{}
	for _, k := range s.NotesOff {
		m[k] = true
	}
	return m
}

func (s *settings) setNoteOff(k viewmodel.NoteKind, off bool) {
	m := s.notesOff()
	if off {
		m[k] = true
	} else {
		delete(m, k)
	}
	s.NotesOff = nil
	for k := range m {
		s.NotesOff = append(s.NotesOff, k)
	}
	sort.Slice(s.NotesOff, func(i, j int) bool { return s.NotesOff[i] < s.NotesOff[j] })
}

func (s settings) save(home string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(home, settingsFile), append(b, '\n'), 0o600)
}
