package cli

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func testRoot() (*cobra.Command, *bytes.Buffer) {
	var out bytes.Buffer
	a := &app{streams: Streams{In: strings.NewReader(""), Out: &out, Err: &out}}
	return a.rootCommand(), &out
}

// signature is what makes two commands the same: their help line and
// their flags.
func signature(c *cobra.Command) string {
	var flags []string
	c.Flags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name+"/"+f.Shorthand) })
	sort.Strings(flags)
	return c.Short + "|" + strings.Join(flags, ",")
}

// TestDockerNames checks that docker's command names resolve, and that
// each alias is the same command as the one it stands for.
func TestDockerNames(t *testing.T) {
	root, _ := testRoot()
	find := func(path string) *cobra.Command {
		t.Helper()
		c, rest, err := root.Find(strings.Fields(path))
		if err != nil || len(rest) != 0 || c == root {
			t.Fatalf("berth %s does not resolve: %v (rest %q)", path, err, rest)
		}
		return c
	}
	same := []struct{ alias, canonical string }{
		{"pull", "image pull"}, {"push", "image push"}, {"images", "image ls"}, {"rmi", "image rm"},
		{"tag", "image tag"}, {"save", "image save"}, {"load", "image load"}, {"history", "image history"},
		{"info", "system info"}, {"ps", "ls"}, {"container ps", "ls"}, {"container list", "ls"},
		{"image list", "image ls"}, {"image remove", "image rm"},
	}
	for _, name := range []string{"ls", "run", "create", "start", "stop", "restart", "kill", "rm", "inspect", "logs",
		"exec", "cp", "wait", "prune", "stats", "port", "attach", "rename", "top", "pause", "unpause"} {
		same = append(same, struct{ alias, canonical string }{"container " + name, name})
	}
	for _, tc := range same {
		t.Run(tc.alias, func(t *testing.T) {
			a, c := find(tc.alias), find(tc.canonical)
			if a == c {
				// A cobra alias: one command, which must list the name.
				words := strings.Fields(tc.alias)
				if !c.HasAlias(words[len(words)-1]) {
					t.Fatalf("%q resolved to %q, which does not list it as an alias", tc.alias, c.CommandPath())
				}
				return
			}
			if signature(a) != signature(c) {
				t.Fatalf("berth %s is not berth %s:\n %s\n %s", tc.alias, tc.canonical, signature(a), signature(c))
			}
		})
	}
	for _, path := range []string{"system df", "system prune", "image history", "container rm"} {
		find(path)
	}
}

func TestContainerHelpListsDockerNames(t *testing.T) {
	root, out := testRoot()
	root.SetArgs([]string{"container", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"attach", "cp", "create", "exec", "inspect", "kill", "logs", "ls", "pause", "port", "prune",
		"rename", "restart", "rm", "run", "start", "stats", "stop", "top", "unpause", "wait"} {
		if !strings.Contains(out.String(), "\n  "+name+" ") {
			t.Errorf("berth container --help lacks %s:\n%s", name, out)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	root, out := testRoot()
	root.SetArgs([]string{"--version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "Berth version ") || !strings.Contains(got, ", build ") {
		t.Fatalf("--version = %q", got)
	}
	if got := versionLine(api.Version{Version: "1.2.3", Commit: "0123456789abcdef"}); got != "Berth version 1.2.3, build 0123456" {
		t.Fatalf("versionLine = %q", got)
	}
}

func TestPrintTop(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.Local)
	top := api.ContainerTop{Time: now, Processes: []api.GuestProcess{
		{PID: 7, PPID: 1, UID: 0, User: "root", Start: now.Add(-100 * time.Second), CPUTime: 25 * time.Second, TTY: "?", Cmd: "sh -c sleep 1000"},
		{PID: 9, PPID: 7, UID: 1000, Start: now.AddDate(0, -1, 0), CPUTime: 26*time.Hour + 61*time.Second, TTY: "pts/0", Cmd: "[sleep]"},
	}}
	var b bytes.Buffer
	if err := printTop(&b, top); err != nil {
		t.Fatal(err)
	}
	want := "UID  PID PPID C  STIME TTY   TIME       CMD\n" +
		"root 7   1    25 11:58 ?     00:00:25   sh -c sleep 1000\n" +
		"1000 9   7    3  Oct29 pts/0 1-02:01:01 [sleep]\n"
	if b.String() != want {
		t.Fatalf("printTop:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestDFAccounting(t *testing.T) {
	du := api.DiskUsage{
		Images: []api.ImageUsage{{Image: api.Image{Size: 300}, Containers: 2}, {Image: api.Image{Size: 100}}},
		Containers: []api.ContainerUsage{{State: api.StateRunning, Size: 50}, {State: api.StatePaused, Size: 10},
			{State: api.StateExited, Size: 40}},
		Volumes: []api.VolumeUsage{{Size: 1000, Containers: 1}, {Size: 3000}},
	}
	got := dfRows(du)
	want := []dfRow{
		{"Images", 2, 1, 400, 100}, {"Containers", 3, 2, 100, 40}, {"Local Volumes", 2, 1, 4000, 3000}, {"Build Cache", 0, 0, 0, 0},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	var b bytes.Buffer
	printDF(&b, got)
	if !strings.Contains(b.String(), "Images          2       1        400B   100B (25%)") ||
		!strings.Contains(b.String(), "Build Cache     0       0        0B     0B\n") {
		t.Fatalf("printDF:\n%s", b.String())
	}
	if w := pruneWarning(true, true); !strings.Contains(w, "all images without at least one container") ||
		!strings.Contains(w, "anonymous volumes") || strings.Contains(w, "dangling") {
		t.Fatalf("pruneWarning -a --volumes:\n%s", w)
	}
}

func TestPausedStatus(t *testing.T) {
	now := time.Now()
	c := api.Container{State: api.StatePaused, Started: now.Add(-3 * time.Minute)}
	if got := status(c, now); got != "Up 3 minutes (Paused)" {
		t.Fatalf("status = %q", got)
	}
}
