package viewmodel

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/units"
)

// MaxInline is how many containers the menu lists directly; the rest fold
// into a submenu.
const MaxInline = 10

// Build makes the menu for s. It is pure: the same State gives the same
// Menu.
func Build(s State) Menu {
	m := Menu{Title: title(s), Icon: icon(s)}
	add := func(items ...Item) { m.Items = append(m.Items, items...) }
	add(statusItems(s)...)
	if s.Daemon == DaemonRunning {
		add(sep("sep/containers"))
		add(containerItems(s)...)
		add(sep("sep/images"))
		add(imageItems(s)...)
		add(networkItems(s)...)
	}
	if len(s.Jobs) > 0 {
		add(sep("sep/jobs"))
		add(jobItems(s)...)
	}
	add(sep("sep/host"))
	add(hostItem(s))
	add(settingsItem(s))
	add(sep("sep/quit"))
	add(
		Item{ID: "quit", Kind: KindAction, Title: "Quit Berth", Enabled: true, Key: "q", Mods: ModCommand,
			Tooltip: "Containers keep running", Action: &Action{Verb: VerbQuit}},
		Item{ID: "quit-stop-all", Kind: KindAction, Title: "Quit and Stop All Containers", Enabled: s.Daemon == DaemonRunning,
			Key: "q", Mods: ModCommand | ModOption, Alternate: true, Action: &Action{Verb: VerbQuitStopAll}},
	)
	return m
}

func sep(id string) Item { return Item{ID: id, Kind: KindSeparator} }

func label(id, title string) Item { return Item{ID: id, Kind: KindLabel, Title: title} }

func action(id, title string, enabled bool, a Action) Item {
	return Item{ID: id, Kind: KindAction, Title: title, Enabled: enabled, Action: &a}
}

func running(s State) (run, all int) {
	for _, c := range s.Containers {
		if c.State == api.StateRunning {
			run++
		}
	}
	return run, len(s.Containers)
}

func title(s State) string {
	switch s.Daemon {
	case DaemonRunning:
		run, all := running(s)
		return fmt.Sprintf("Berth: %d of %d running", run, all)
	case DaemonStarting:
		return "Berth: starting"
	}
	return "Berth: " + string(s.Daemon)
}

func icon(s State) Icon {
	switch {
	case s.Daemon == DaemonDown || s.Daemon == DaemonUnreachable:
		return IconProblem
	case s.Daemon == DaemonStarting:
		return IconBusy
	}
	for _, j := range s.Jobs {
		if j.Failed == "" {
			return IconBusy
		}
	}
	return IconIdle
}

// statusItems is the status line, and what to do about a daemon that is
// not running.
func statusItems(s State) []Item {
	switch s.Daemon {
	case DaemonRunning:
		run, all := running(s)
		line := fmt.Sprintf("Berth is running · %d of %d %s running", run, all, plural(all, "container", "containers"))
		it := label("status", line)
		it.Dot = DotGreen
		items := []Item{it}
		if s.Info.ContainersError != "" {
			items = append(items, label("status/error", "Containers cannot run here: "+s.Info.ContainersError))
		}
		return items
	case DaemonStarting:
		it := label("status", "Berth is starting…")
		it.Dot = DotYellow
		return []Item{it}
	}
	line := "Berth is not running"
	if s.Daemon == DaemonUnreachable {
		line = "Berth is unreachable"
	}
	it := label("status", line)
	it.Dot = DotRed
	it.Tooltip = s.DaemonError
	items := []Item{it}
	if s.DaemonError != "" {
		items = append(items, label("status/error", s.DaemonError))
	}
	return append(items, action("start-daemon", "Start Berth", true, Action{Verb: VerbStartDaemon}))
}

// order lists running containers first, then the rest, each by name.
func order(cs []api.Container) []api.Container {
	out := append([]api.Container(nil), cs...)
	rank := func(c api.Container) int {
		switch {
		case c.State == api.StateRunning:
			return 0
		case c.State.Active():
			return 1
		}
		return 2
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func containerItems(s State) []Item {
	cs := order(s.Containers)
	head := Item{ID: "containers", Kind: KindHeader, Title: "Containers"}
	if len(cs) == 0 {
		return []Item{head,
			label("containers/none", "No containers yet"),
			action("run-demo", "Run the Demo Container", true, Action{Verb: VerbRunDemo}),
		}
	}
	items := []Item{head}
	for i, c := range cs {
		if i == MaxInline && len(cs) > MaxInline {
			more := Item{ID: "containers/more", Kind: KindSubmenu, Enabled: true,
				Title: fmt.Sprintf("%d More Containers", len(cs)-MaxInline)}
			for _, c := range cs[MaxInline:] {
				more.Children = append(more.Children, containerItem(s, c))
			}
			return append(items, more)
		}
		items = append(items, containerItem(s, c))
	}
	return items
}

// containerItem is one container's row: a status dot, its name, its
// image and how it is, and what can be done with it.
func containerItem(s State, c api.Container) Item {
	id := "container/" + c.ID
	it := Item{ID: id, Kind: KindSubmenu, Title: c.Name, Detail: c.Image + " · " + containerStatus(s, c),
		Dot: containerDot(s, c), Enabled: true, Tooltip: c.Error}
	sub := func(verb Verb, title string, enabled bool) Item {
		return action(id+"/"+string(verb), title, enabled, Action{Verb: verb, Target: c.ID})
	}
	var kids []Item
	// A container waiting to restart has no VM, but it is not stopped:
	// Stop (or Kill) cancels the restart.
	live := c.State.Active() || c.State == api.StateRestarting
	if live {
		stop := sub(VerbStop, "Stop", c.State != api.StateStopping)
		kill := sub(VerbKill, "Kill", true)
		kill.Alternate, kill.Mods = true, ModOption
		kids = append(kids, stop, kill, sub(VerbRestart, "Restart", c.State == api.StateRunning))
	} else {
		kids = append(kids, sub(VerbStart, "Start", true))
	}
	kids = append(kids, sep(id+"/sep1"),
		sub(VerbLogs, "Logs", true),
		sub(VerbShell, "Shell", c.State == api.StateRunning),
	)
	copyIP := sub(VerbCopyIP, "Copy IP Address", c.IPAddress != "")
	if c.IPAddress != "" {
		copyIP.Title = "Copy IP Address (" + c.IPAddress + ")"
	}
	kids = append(kids, copyIP)
	if st, ok := s.Stats[c.ID]; ok && c.State == api.StateRunning {
		kids = append(kids, sep(id+"/sep-stats"), label(id+"/stats", statsLine(st)))
	}
	remove := sub(VerbRemove, "Remove", !live)
	if live {
		remove.Tooltip = "Stop it first"
	}
	it.Children = append(kids, sep(id+"/sep2"), remove)
	return it
}

// containerDot: red for a failure, not for an end the user asked for (or
// a process that ended on SIGTERM, as a stop does).
func containerDot(s State, c api.Container) Dot {
	switch {
	case c.State == api.StateRunning:
		return DotGreen
	case c.State.Active(), c.State == api.StateRestarting:
		return DotYellow
	case c.State == api.StateDead:
		return DotRed
	case c.State == api.StateExited && c.ExitCode != 0 && c.ExitCode != sigtermExit && !s.Asked[c.ID]:
		return DotRed
	}
	return DotGrey
}

// sigtermExit is the status of a process ended by SIGTERM (128+15).
const sigtermExit = 143

// containerStatus reads like docker ps's STATUS column, with how many
// times its restart policy restarted it.
func containerStatus(s State, c api.Container) string {
	restarts := ""
	if c.RestartCount > 0 {
		restarts = fmt.Sprintf(" · restarted %d×", c.RestartCount)
	}
	switch c.State {
	case api.StateRunning:
		return "Up " + units.Duration(s.Now.Sub(c.Started)) + restarts
	case api.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s", c.ExitCode, ago(s.Now, c.Finished)) + restarts
	case api.StatePaused:
		return "Up " + units.Duration(s.Now.Sub(c.Started)) + " (Paused)"
	case api.StateStarting:
		return "Starting…"
	case api.StateStopping:
		return "Stopping…"
	case api.StateCreated:
		return "Created"
	case api.StateDead:
		return "Died " + ago(s.Now, c.Finished)
	}
	return fmt.Sprintf("Exited (%d) %s", c.ExitCode, ago(s.Now, c.Finished))
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return units.Duration(now.Sub(t)) + " ago"
}

func statsLine(st api.ContainerStats) string {
	line := fmt.Sprintf("%s of %s memory", units.MemorySize(st.MemoryUsed), units.MemorySize(st.MemoryTotal))
	if st.HostRSS > 0 {
		line += fmt.Sprintf(" · VM uses %s", units.MemorySize(st.HostRSS))
	}
	return line
}

func imageItems(s State) []Item {
	sub := Item{ID: "images", Kind: KindSubmenu, Enabled: true,
		Title: fmt.Sprintf("Images (%d)", len(s.Images))}
	images := append([]api.Image(nil), s.Images...)
	sort.SliceStable(images, func(i, j int) bool { return imageName(images[i]) < imageName(images[j]) })
	for _, im := range images {
		sub.Children = append(sub.Children, Item{ID: "image/" + im.Digest, Kind: KindLabel, Title: imageName(im),
			Detail: im.Platform + " · " + units.Size(im.Size)})
	}
	if len(images) == 0 {
		sub.Children = append(sub.Children, label("images/none", "No images"))
	}
	items := []Item{sub, action("import", "Import Image…", true, Action{Verb: VerbImport})}
	if s.OS == "darwin" {
		// A StatusNotifierItem (Linux) takes no drops.
		items = append(items, label("import/hint", "Or drop image archives on the Berth icon"))
	}
	return items
}

func imageName(im api.Image) string {
	if len(im.Names) > 0 {
		return im.Names[0]
	}
	return "<none> " + api.ShortID(strings.TrimPrefix(im.ID, "sha256:"))
}

// networkItems: how networks are carried here, then each network with
// its addresses, members and published ports, and whether its members
// may reach the host.
func networkItems(s State) []Item {
	sub := Item{ID: "network", Kind: KindSubmenu, Enabled: true, Title: "Networks"}
	mode := Item{ID: "network/mode", Kind: KindLabel, Title: "Mode: " + s.Info.Network.Engine, Tooltip: s.Info.Network.Reason}
	if s.Info.Network.Engine == "" {
		mode.Title = "Mode: " + s.Info.Network.Mode
	}
	sub.Children = append(sub.Children, mode)
	if s.Info.Network.Reason != "" {
		sub.Children = append(sub.Children, label("network/reason", s.Info.Network.Reason))
	}
	for _, n := range s.Networks {
		sub.Children = append(sub.Children, sep("network/sep/"+n.ID), networkItem(s, n))
	}
	return []Item{sub}
}

// networkItem is one network: subnet and state at a glance, the rest
// beside it.
func networkItem(s State, n api.Network) Item {
	up := 0
	for _, m := range n.Members {
		if m.Running {
			up++
		}
	}
	id := "network/" + n.ID
	detail := []string{n.Subnet, fmt.Sprintf("%d of %d running", up, len(n.Members))}
	if len(n.Members) == 0 {
		detail[1] = "no containers"
	}
	if n.HostAccess {
		detail = append(detail, "host access on")
	}
	it := Item{ID: id, Kind: KindSubmenu, Enabled: true, Title: n.Name, Dot: DotGrey, Detail: strings.Join(detail, " · ")}
	if n.State == api.NetworkRunning {
		it.Dot = DotGreen
	}
	state := "Stopped: it starts with its first container"
	if n.State == api.NetworkRunning {
		state = "Running"
	}
	it.Children = append(it.Children,
		label(id+"/state", state),
		Item{ID: id + "/gateway", Kind: KindLabel, Title: "Gateway " + n.Gateway, Detail: "DNS: NAME and NAME.berth.internal"})
	switch {
	case n.Internal:
		it.Children = append(it.Children, label(id+"/out", "Internal: no way out of the network"))
	case n.WayOut == "vmnet":
		it.Children = append(it.Children, label(id+"/out", "Reaches out through macOS's vmnet"))
	default:
		it.Children = append(it.Children, label(id+"/out", "Reaches out through the host (user-mode NAT)"))
	}
	host := Item{ID: id + "/host", Kind: KindLabel, Title: "Host services: private",
		Tooltip: "Containers cannot reach services on the host's loopback; berth network create --host-access allows it"}
	if n.HostAccess {
		host.Title, host.Detail, host.Dot = "Host services: reachable", "host.berth.internal", DotYellow
		host.Tooltip = "Containers reach services on the host's loopback (127.0.0.1) as host.berth.internal"
	}
	it.Children = append(it.Children, host)
	if len(n.Members) > 0 {
		it.Children = append(it.Children, sep(id+"/sep"))
	}
	ports := map[string][]string{}
	for _, p := range n.Ports {
		ports[p.Container] = append(ports[p.Container], fmt.Sprintf("%s:%d→%d/%s", p.HostIP, p.HostPort, p.ContainerPort, p.Proto))
	}
	for _, m := range n.Members {
		mi := Item{ID: id + "/member/" + m.ContainerID, Kind: KindLabel, Title: m.Name, Detail: m.IP, Dot: DotGrey}
		if m.Running {
			mi.Dot = DotGreen
		}
		if p := ports[m.ContainerID]; len(p) > 0 {
			mi.Detail += " · " + strings.Join(p, ", ")
		}
		it.Children = append(it.Children, mi)
	}
	return it
}

func jobItems(s State) []Item {
	items := []Item{{ID: "jobs", Kind: KindHeader, Title: "Activity"}}
	for _, j := range s.Jobs {
		it := Item{ID: "job/" + j.ID, Kind: KindLabel, Title: j.Title + "…", Detail: j.Progress, Dot: DotYellow}
		if j.Failed != "" {
			it.Title, it.Detail, it.Dot = j.Title+" failed", j.Failed, DotRed
		}
		items = append(items, it)
	}
	return items
}

// hostItem shows what this machine can do, and why not where it cannot.
func hostItem(s State) Item {
	h := s.Info.Host
	name := "This Host"
	if s.OS == "darwin" {
		name = "This Mac"
	}
	sub := Item{ID: "host", Kind: KindSubmenu, Enabled: true, Title: name}
	if h.OS == "" {
		sub.Children = []Item{label("host/unknown", "Known once Berth is running")}
		return sub
	}
	add := func(id, title, detail string) {
		sub.Children = append(sub.Children, Item{ID: "host/" + id, Kind: KindLabel, Title: title, Detail: detail})
	}
	chip := h.CPUModel
	if h.AppleChip != "" {
		chip = fmt.Sprintf("Apple %s (generation %d)", h.AppleChip, h.AppleChipGeneration)
	}
	add("chip", chip, fmt.Sprintf("%d CPUs · %s", h.CPUs, units.MemorySize(uint64(h.MemoryMiB)<<20)))
	add("os", strings.TrimSpace(h.OSName+" "+h.OSVersion), h.Arch)
	add("hypervisor", "Hypervisor: "+h.Hypervisor, h.Accelerator)
	nested := "Nested virtualization: supported"
	if !h.NestedVirtualization {
		nested = "Nested virtualization: no"
	}
	add("nested", nested, h.NestedVirtualizationReason)
	if s.OS == "darwin" {
		rosetta := "Rosetta: installed"
		if !h.Rosetta {
			rosetta = "Rosetta: no"
		}
		add("rosetta", rosetta, h.RosettaReason)
		if !h.Rosetta && h.Arch == "arm64" && strings.Contains(h.RosettaReason, "softwareupdate") {
			sub.Children = append(sub.Children, action("host/install-rosetta", "Install Rosetta…", true, Action{Verb: VerbInstallRosetta}))
		}
	}
	if d := s.Info.Defaults; d.CPUs > 0 {
		add("defaults", fmt.Sprintf("Containers get %d %s and %s by default", d.CPUs, plural(d.CPUs, "CPU", "CPUs"),
			units.MemorySize(uint64(d.MemoryMiB)<<20)), "")
	}
	return sub
}

func settingsItem(s State) Item {
	sub := Item{ID: "settings", Kind: KindSubmenu, Enabled: true, Title: "Settings"}
	login := Item{ID: "settings/login", Kind: KindToggle, Title: "Launch at Login", Checked: s.Login == LoginOn,
		Enabled: s.Login != LoginUnavailable && s.Login != "", Action: &Action{Verb: VerbToggleLogin}}
	if s.Login == LoginRequiresApproval {
		login.Title, login.Tooltip = "Launch at Login (allow it in System Settings)", "System Settings → General → Login Items"
	}
	notes := Item{ID: "settings/notes", Kind: KindSubmenu, Enabled: true, Title: "Notifications"}
	for _, k := range NoteKinds {
		notes.Children = append(notes.Children, Item{ID: "settings/notes/" + string(k), Kind: KindToggle,
			Title: noteKindTitle[k], Checked: !s.NotesOff[k], Enabled: true, Action: &Action{Verb: VerbToggleNote, Target: string(k)}})
	}
	sub.Children = []Item{login, notes, sep("settings/sep"),
		action("settings/open-data", "Open Data Folder", s.Info.Daemon.Home != "", Action{Verb: VerbOpenData}),
		action("settings/open-log", "Open Daemon Log", s.Info.Daemon.Home != "", Action{Verb: VerbOpenLog}),
	}
	return sub
}

var noteKindTitle = map[NoteKind]string{
	NoteExit:   "A container exits with an error",
	NoteCrash:  "A container dies",
	NoteImage:  "An image import or pull ends",
	NoteDaemon: "Berth stops",
	NoteAction: "A menu action fails",
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
