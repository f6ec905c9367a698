package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/berthvm/berth/core/capabilities"
	"github.com/berthvm/berth/core/events"
	"github.com/berthvm/berth/core/image"
	"github.com/berthvm/berth/core/network"
	"github.com/berthvm/berth/core/paths"
	"github.com/berthvm/berth/core/rootfs"
	"github.com/berthvm/berth/core/runtime"
	"github.com/berthvm/berth/core/state"
	"github.com/berthvm/berth/core/volume"
)

// ErrDataDirBusy means another daemon owns the data dir. It wraps
// api.ErrUnavailable; `berth daemon` exits with api.ExitDataDirBusy for it so
// that a CLI that raced to start a daemon knows one is coming up.
var ErrDataDirBusy = fmt.Errorf("data dir is owned by another berth daemon: %w", api.ErrUnavailable)

// maxSocketPath is the room in sockaddr_un.sun_path (104 on macOS, 108 on
// Linux) less the terminating NUL, taking the smaller.
const maxSocketPath = 103

// Config is how the daemon is started.
type Config struct {
	Home    string       // data dir, absolute
	Version api.Version  // this build
	Logger  *slog.Logger // nil: slog.Default()
}

// Daemon is a running core service.
type Daemon struct {
	cfg        Config
	log        *slog.Logger
	db         *state.DB
	caps       api.Capabilities
	started    time.Time
	hostID     string
	bus        *events.Bus
	runtime    *runtime.Manager // nil where this OS has no VM backend (runtimeErr says why)
	runtimeErr error
	networks   *network.Manager // with the runtime
	netMode    api.NetworkInfo
	images     *image.Store
	// volumes are served with or without a VM backend; the runtime gets
	// them for containers' volume mounts (Ensure, Claim).
	volumes *volume.Manager

	mux      *http.ServeMux
	dockerLn net.Listener // docker.sock: the Docker Engine API
	stopOnce sync.Once
	stopCh   chan struct{}
}

// Run claims cfg.Home, serves the API until ctx ends or a client asks the
// daemon to stop, then releases everything it made. It returns
// ErrDataDirBusy at once if another daemon owns the data dir.
func Run(ctx context.Context, cfg Config) error {
	d, ln, err := start(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.close()
	return d.serve(ctx, ln)
}

// start does everything that can fail before serving: it is all-or-nothing.
func start(ctx context.Context, cfg Config) (_ *Daemon, _ net.Listener, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := paths.Prepare(cfg.Home); err != nil {
		return nil, nil, err
	}
	d := &Daemon{cfg: cfg, log: cfg.Logger, started: time.Now().UTC(), mux: http.NewServeMux(),
		stopCh: make(chan struct{}), bus: events.NewBus(events.DefaultHistory)}

	db, err := state.Open(paths.Database(cfg.Home), state.Options{})
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			return nil, nil, busyError(cfg.Home)
		}
		return nil, nil, fmt.Errorf("open database in data dir %q: %w", cfg.Home, err)
	}
	d.db = db
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	// We hold the database lock: no other daemon is changing the data
	// dir while its modes are fixed.
	tightened, err := paths.Secure(cfg.Home)
	for _, t := range tightened {
		d.log.Info("made a data dir folder private", "path", t.Path, "was", fmt.Sprintf("%#o", t.Was), "now", "0700")
	}
	if err != nil {
		return nil, nil, err
	}
	if err := db.View(func(tx *state.Tx) error {
		m, err := tx.Meta()
		d.hostID = m.HostID
		return err
	}); err != nil {
		return nil, nil, fmt.Errorf("read database in data dir %q: %w", cfg.Home, err)
	}

	// We hold the database lock, so no other daemon serves this data dir:
	// a socket file left here is stale (a daemon that was killed).
	sock := paths.Socket(cfg.Home)
	ln, err := listenSocket(sock)
	if err != nil {
		return nil, nil, err
	}
	if err := atomicfile.WriteFile(paths.PIDFile(cfg.Home), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("write pid file: %w", err)
	}

	if d.images, err = image.Open(ctx, image.Options{Home: cfg.Home, DB: db, InUse: d.imagesInUse}); err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("open image store in data dir %q: %w", cfg.Home, err)
	}
	// A template whose making a killed daemon cut short; we hold the data
	// dir, and no template is being made yet.
	stale, err := rootfs.RemoveStaleTemplates(templatesDir(cfg.Home))
	for _, p := range stale {
		d.log.Info("removed the temp file of an unfinished writable disk template", "path", p)
	}
	if err != nil {
		d.log.Warn("clean writable disk templates", "err", err)
	}
	// Volumes before the runtime, which mounts them; they share the
	// writable disks' templates.
	if d.volumes, err = volume.New(ctx, volume.Config{DB: db, Home: cfg.Home, Templates: templatesDir(cfg.Home),
		Bus: d.bus, Logger: d.log}); err != nil {
		ln.Close()
		return nil, nil, fmt.Errorf("open volumes in data dir %q: %w", cfg.Home, err)
	}
	d.caps = probeHost(ctx)
	if err := d.startRuntime(ctx); err != nil {
		ln.Close()
		return nil, nil, err
	}
	d.routes()
	if d.dockerLn, err = listenSocket(paths.DockerSocket(cfg.Home)); err != nil {
		ln.Close()
		return nil, nil, err
	}
	d.bus.Publish(api.Event{Type: api.EventDaemon, Action: "start", ID: d.hostID})
	d.log.Info("daemon ready", "home", cfg.Home, "socket", sock, "pid", os.Getpid(),
		"hypervisor", d.caps.Hypervisor, "accelerator", d.caps.Accelerator)
	return d, ln, nil
}

func (d *Daemon) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: d.withHeaders(d.mux), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	dockerSrv := &http.Server{Handler: d.dockerAPI(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	go func() { errc <- dockerSrv.Serve(d.dockerLn) }()
	select {
	case <-ctx.Done():
	case <-d.stopCh:
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	d.log.Info("daemon stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dockerSrv.Shutdown(shutdownCtx); err != nil {
		dockerSrv.Close()
	}
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	return nil
}

// close releases what start made, in reverse order. Removing the socket
// and pid file before the database lock means a daemon that starts next
// never finds our files after it has claimed the lock.
func (d *Daemon) close() {
	if d.runtime != nil {
		// A daemon that is told to stop stops its containers (as dockerd
		// does); only a crash leaves VMs running, for the next daemon to
		// re-adopt.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		d.runtime.StopAll(ctx, 10*time.Second)
		d.runtime.Close()
		d.runtime = nil
		// With no container running, their networks' processes go too.
		d.networks.StopAll(ctx)
		cancel()
		d.networks.Close()
		d.networks = nil
	}
	if d.dockerLn != nil {
		d.dockerLn.Close()
	}
	os.Remove(paths.DockerSocket(d.cfg.Home))
	os.Remove(paths.Socket(d.cfg.Home))
	os.Remove(paths.PIDFile(d.cfg.Home))
	if d.db != nil {
		if err := d.db.Close(); err != nil {
			d.log.Warn("close database", "err", err)
		}
		d.db = nil
	}
}

// requestStop makes Run return after the current requests finish.
func (d *Daemon) requestStop() { d.stopOnce.Do(func() { close(d.stopCh) }) }

func (d *Daemon) withHeaders(h http.Handler) http.Handler {
	v := strconv.Itoa(api.APIVersion)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(api.HeaderAPIVersion, v)
		h.ServeHTTP(w, r)
	})
}

// listenSocket listens on a unix socket only this user may use, in place
// of a stale one (we hold the data dir's lock).
func listenSocket(sock string) (net.Listener, error) {
	if len(sock) > maxSocketPath {
		return nil, fmt.Errorf("socket path %q is %d bytes, over the %d the OS allows; set %s to a shorter path: %w",
			sock, len(sock), maxSocketPath, paths.EnvHome, api.ErrInvalidArgument)
	}
	if err := os.Remove(sock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket %q: %w", sock, err)
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("listen on %q: %w", sock, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("restrict socket %q: %w", sock, err)
	}
	return ln, nil
}

func busyError(home string) error {
	owner := "another process"
	if raw, err := os.ReadFile(paths.PIDFile(home)); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
			owner = fmt.Sprintf("pid %d", pid)
		}
	}
	return fmt.Errorf("data dir %q is in use by a running berth daemon (%s); stop it with `berth system stop` or set %s to another directory: %w",
		home, owner, paths.EnvHome, ErrDataDirBusy)
}

// probeHost reads the host's capabilities; tests replace it.
var probeHost = capabilities.Probe

// startRuntime builds the container runtime over this OS's VM backend and
// reconciles it with the VMs that survived a previous daemon. An OS
// without a backend, or a build that cannot run VMs here (an amd64 berth
// under Rosetta), still serves images and system info; container requests
// get the reason.
func (d *Daemon) startRuntime(ctx context.Context) error {
	if err := capabilities.CheckHost(d.caps); err != nil {
		d.runtimeErr = err
		d.log.Error("containers are not available", "err", err)
		return nil
	}
	driver, kernels, err := platform(d.caps, d.cfg.Home)
	if err != nil {
		d.runtimeErr = err
		d.log.Warn("containers are not available", "err", err)
		return nil
	}
	// The first writable disk needs a template (seconds to make): make
	// it now so the first `berth run` does not wait for it.
	go func() {
		if _, err := rootfs.EnsureTemplate(context.Background(), templatesDir(d.cfg.Home), rootfs.DefaultWritableSize); err != nil {
			d.log.Warn("prepare writable disk template", "err", err)
		}
	}()
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the berth binary for network processes: %w", err)
	}
	// Networks first: the runtime's reconcile tells them what runs.
	d.netMode = network.ChooseMode(d.caps)
	d.networks, err = network.New(ctx, network.Config{DB: d.db, Home: d.cfg.Home, Engines: network.Processes{Exe: exe},
		Bus: d.bus, Logger: d.log, Uplink: network.Uplink(d.netMode)})
	if err != nil {
		return fmt.Errorf("open networks: %w", err)
	}
	d.runtime, err = runtime.New(ctx, runtime.Config{
		Home: d.cfg.Home, DB: d.db, Bus: d.bus, Driver: driver, Images: imageSource{d.images}, Kernels: d.withKernelSetting(kernels),
		Disks: writableDisks{templatesDir(d.cfg.Home)}, Networks: d.networks, Volumes: d.volumes, Host: d.caps, Logger: d.log,
	})
	if err != nil {
		d.networks.Close()
		d.networks = nil
		return fmt.Errorf("start the container runtime: %w", err)
	}
	return nil
}
