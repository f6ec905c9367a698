package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/core/client"
	"github.com/berthvm/berth/core/units"
	"github.com/spf13/cobra"
)

func (a *app) imageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images: pull, push, load, save, list, inspect, tag, remove, prune",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.imagePullCommand(), a.imagePushCommand(), a.imageLoadCommand(), a.imageSaveCommand(),
		a.imageListCommand(), a.imageInspectCommand(), a.imageTagCommand(), a.imageRemoveCommand(),
		a.imagePruneCommand(), a.imageHistoryCommand())
	return cmd
}

func (a *app) imagePullCommand() *cobra.Command {
	var platform, scheme string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "pull [flags] REF",
		Short:   "Pull an image from a registry and prepare its root filesystem",
		Example: "  berth image pull alpine:3\n  berth image pull --platform linux/arm64 ghcr.io/org/app:1\n  berth image pull --scheme http 10.0.0.5:5000/app",
		Args:    exactArgs(1, "REF"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			b := a.bars(quiet)
			im, err := c.ImagePull(cmd.Context(), api.ImagePullRequest{Ref: args[0], Platform: platform, Scheme: scheme}, b.update)
			b.finish()
			if err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(a.streams.Out, im.Digest)
				return nil
			}
			fmt.Fprintf(a.streams.Out, "Pulled %s (%s, %s)\nDigest: %s\n", pulledName(im, args[0]), im.Platform, units.Size(im.Size), im.Digest)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&platform, "platform", "", "os/arch[/variant] to pull from a multi-platform image (default linux/<host arch>)")
	f.StringVar(&scheme, "scheme", "", "http or https (default: https, plain http allowed for loopback and private addresses)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image digest")
	return cmd
}

func (a *app) imagePushCommand() *cobra.Command {
	var scheme string
	cmd := &cobra.Command{
		Use:     "push [flags] REF [TARGET]",
		Short:   "Push a local image to a registry (to TARGET if given)",
		Example: "  berth image push 127.0.0.1:5000/app:1\n  berth image push app:1 registry.example.com/team/app:1",
		Args:    rangeArgs(1, 2, "REF [TARGET]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.ImagePushRequest{Ref: args[0], Scheme: scheme}
			if len(args) == 2 {
				req.Target = args[1]
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			b := a.bars(false)
			im, err := c.ImagePush(cmd.Context(), req, b.update)
			b.finish()
			if err != nil {
				return err
			}
			target := req.Target
			if target == "" {
				target = req.Ref
			}
			fmt.Fprintf(a.streams.Out, "Pushed %s\nDigest: %s\n", target, im.Digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&scheme, "scheme", "", "http or https (default: https, plain http allowed for loopback and private addresses)")
	return cmd
}

func (a *app) imageLoadCommand() *cobra.Command {
	var input, platform string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "load [-i PATH]",
		Short: "Load images from a docker save tarball, an OCI archive or an OCI layout directory (gzip or not)",
		Long: "Load images from a docker save tarball, an OCI archive or an OCI layout directory (gzip or not),\n" +
			"read from PATH, or from stdin without -i (as docker load does).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if input == "" || input == "-" {
				if isTerminal(a.streams.In) {
					return &usageError{err: fmt.Errorf("requested load from stdin, but stdin is a terminal: use -i PATH or redirect stdin")}
				}
				// The daemon reads a path: stdin goes to a file first.
				tmp, err := spoolStdin(a.streams.In)
				if err != nil {
					return err
				}
				defer os.Remove(tmp)
				input = tmp
			} else if fi, err := os.Stat(input); err == nil && !fi.IsDir() && !fi.Mode().IsRegular() {
				// A named pipe or a device (-i /dev/stdin): the daemon
				// reads only files, so its content goes to one first, as
				// stdin's does; docker load -i reads these too.
				tmp, err := spoolFile(input)
				if err != nil {
					return err
				}
				defer os.Remove(tmp)
				input = tmp
			}
			p, err := filepath.Abs(input)
			if err != nil {
				return &usageError{err: err}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			b := a.bars(quiet)
			loaded, err := c.ImageLoad(cmd.Context(), api.ImageLoadRequest{Path: p, Platform: platform}, b.update)
			b.finish()
			if err != nil {
				return err
			}
			for _, im := range loaded {
				switch {
				case quiet:
					fmt.Fprintln(a.streams.Out, im.Digest)
				case len(im.Names) > 0:
					for _, n := range im.Names {
						fmt.Fprintf(a.streams.Out, "Loaded image: %s\n", n)
					}
				default:
					fmt.Fprintf(a.streams.Out, "Loaded image ID: %s (no name; give it one with berth image tag)\n", im.ID)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&input, "input", "i", "", "the file or directory to load (default: stdin)")
	f.StringVar(&platform, "platform", "", "os/arch[/variant] to load from a multi-platform archive")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image digests")
	return cmd
}

// spoolStdin copies stdin to a private temporary file for the daemon to
// read, and returns its path; the caller removes it.
func spoolStdin(in io.Reader) (string, error) {
	f, err := os.CreateTemp("", "berth-load-*.tar")
	if err != nil {
		return "", fmt.Errorf("spool stdin: %w", err)
	}
	n, err := io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n == 0 {
		err = &usageError{err: errors.New("requested load from stdin, but stdin is empty")}
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("spool stdin: %w", err)
	}
	return f.Name(), nil
}

// spoolFile is spoolStdin for a named pipe or device at path.
func spoolFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return spoolStdin(f)
}

func (a *app) imageSaveCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "save [-o FILE] REF...",
		Short: "Save images as a tarball that `docker load` (and berth image load) reads",
		Args:  minArgs(1, "REF..."),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" && isTerminal(a.streams.Out) {
				return &usageError{err: fmt.Errorf("refusing to write a tarball to the terminal: use -o FILE or redirect stdout")}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if output == "" {
				return c.ImageSave(cmd.Context(), a.streams.Out, args...)
			}
			// Write beside the target and rename, so a failed save leaves no
			// half tarball under the name the user gave.
			f, err := atomicfile.Create(output, 0o600)
			if err != nil {
				return err
			}
			defer f.Abort()
			bw := bufio.NewWriterSize(f, 1<<20)
			if err := c.ImageSave(cmd.Context(), bw, args...); err != nil {
				return err
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			return f.Commit()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}

func (a *app) imageListCommand() *cobra.Command {
	var format string
	var quiet, digests, noTrunc, all bool
	var filters []string
	cmd := &cobra.Command{
		Use:     "ls [flags] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List local images",
		Example: "  berth image ls alpine\n  berth image ls --filter dangling=true -q\n  berth image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}'",
		Args:    rangeArgs(0, 1, "[REPOSITORY[:TAG]]"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			f, err := parseKnownFilters(filters, imageFilterKeys...)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f["reference"] = append(f["reference"], args[0])
			}
			def := imagesDefaultTable
			if digests {
				def = imagesDigestsTable
			}
			if quiet {
				format = "{{.ID}}"
			}
			lf, err := parseListFormat(format, def)
			if err != nil {
				return err
			}
			images, err := c.Images(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			labels := func(im api.Image) map[string]string {
				d, err := c.ImageInspect(cmd.Context(), im.Digest)
				if err != nil {
					return nil
				}
				return d.Config.Labels
			}
			rows, err := imageRows(images, f, now, labels, !noTrunc)
			if err != nil {
				return err
			}
			if quiet { // docker prints each image once
				seen := map[string]bool{}
				var uniq []listRow
				for _, r := range rows {
					if id := r.(imageRow).ID(); !seen[id] {
						seen[id] = true
						uniq = append(uniq, r)
					}
				}
				rows = uniq
			}
			return lf.write(a.streams.Out, imageRow{header: true}, rows)
		}),
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "", "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template")
	fl.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fl.BoolVar(&digests, "digests", false, "Show digests")
	fl.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fl.BoolVarP(&all, "all", "a", false, "Show all images (Berth keeps no intermediate images: the same as without)")
	fl.StringArrayVarP(&filters, "filter", "f", nil, "Filter output based on conditions provided (dangling, label, reference, before, since, until)")
	return cmd
}

// imageRows are the rows of docker images for images: one per name kept
// by the filters.
func imageRows(images []api.Image, f filterArgs, now time.Time, labels func(api.Image) map[string]string, trunc bool) ([]listRow, error) {
	p, err := newImageFilter(f, images, now, labels)
	if err != nil {
		return nil, err
	}
	images = append([]api.Image{}, images...)
	sort.SliceStable(images, func(i, j int) bool { return images[i].Created.After(images[j].Created) })
	var rows []listRow
	for _, im := range images {
		for _, n := range p.names(im) {
			rows = append(rows, imageRow{im: im, name: n, loc: time.Local, trunc: trunc})
		}
	}
	return rows, nil
}

// splitName shows names as docker does: "docker.io/library/alpine:3" is
// "alpine" "3"; no name is "<none>" "<none>".
func splitName(n string) (repo, tag string) {
	if n == "" {
		return "<none>", "<none>"
	}
	repo, tag = n, "<none>"
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		repo, tag = n[:i], n[i+1:]
	}
	repo = strings.TrimPrefix(strings.TrimPrefix(repo, "docker.io/library/"), "docker.io/")
	return repo, tag
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// pulledName is the name of im that ref asked for (an image may have
// other names, which the pull did not touch): ref itself, with the
// :latest tag it implies, else ref as given.
func pulledName(im api.Image, ref string) string {
	want := []string{ref}
	if !strings.Contains(ref[strings.LastIndex(ref, "/")+1:], ":") && !strings.Contains(ref, "@") {
		want = append(want, ref+":latest")
	}
	for _, n := range im.Names {
		for _, w := range want {
			if n == w || strings.HasSuffix(n, "/"+w) {
				return w
			}
		}
	}
	return ref
}

func (a *app) imageInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:     "inspect [flags] REF...",
		Short:   "Show images' details in docker's JSON shape; Berth's (layers, base disk) under Berth",
		Example: "  berth image inspect -f '{{.Os}}/{{.Architecture}} {{.Size}}' alpine\n  berth image inspect -f '{{.Berth.Disk.Path}}' alpine",
		Args:    minArgs(1, "REF..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			return a.printInspect(args, format, func(ref string) (any, error) {
				return inspectTyped(cmd.Context(), c, ref, "image")
			})
		}),
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template: 'json', or a Go template")
	return cmd
}

func (a *app) imageTagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE TARGET",
		Short: "Give an image another name",
		Args:  exactArgs(2, "SOURCE TARGET"),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			_, err := c.ImageTag(cmd.Context(), args[0], args[1])
			return err
		}),
	}
}

func (a *app) imageRemoveCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:     "rm [-f] REF...",
		Aliases: []string{"remove", "rmi"},
		Short:   "Remove image names, and images left without one",
		Args:    minArgs(1, "REF..."),
		RunE: a.withDaemon(func(cmd *cobra.Command, args []string, c *client.Client) error {
			var errs []string
			for _, ref := range args {
				res, err := c.ImageRemove(cmd.Context(), ref, force)
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				for _, n := range res.Untagged {
					fmt.Fprintf(a.streams.Out, "Untagged: %s\n", n)
				}
				for _, d := range res.Deleted {
					fmt.Fprintf(a.streams.Out, "Deleted: %s\n", d)
				}
			}
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "\n"))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove even if containers use it or several names point at it")
	return cmd
}

func (a *app) imagePruneCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [-a] [-f]",
		Short: "Remove unnamed images (-a: every image no container uses) and unreferenced data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !force && isTerminal(a.streams.In) {
				what := "images without a name"
				if all {
					what = "every image no container uses"
				}
				if !a.confirm("This removes " + what + ".") {
					return nil
				}
			}
			c, err := a.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			res, err := c.ImagePrune(cmd.Context(), all)
			if err != nil {
				return err
			}
			for _, d := range res.Deleted {
				fmt.Fprintf(a.streams.Out, "Deleted: %s\n", d)
			}
			fmt.Fprintf(a.streams.Out, "Total reclaimed space: %s\n", units.Size(res.Reclaimed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image no container uses, not only unnamed ones")
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// confirm asks a yes/no question on the terminal; no is the default.
func (a *app) confirm(what string) bool {
	fmt.Fprintf(a.streams.Out, "%s Continue? [y/N] ", what)
	line, _ := bufio.NewReader(a.streams.In).ReadString('\n')
	ans := strings.ToLower(strings.TrimSpace(line))
	return ans == "y" || ans == "yes"
}

// bars returns progress bars on stdout, or none when quiet.
func (a *app) bars(quiet bool) *bars {
	if quiet {
		return &bars{}
	}
	return newBars(a.streams.Out)
}
