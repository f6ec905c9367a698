package main

// testcontainers-go against a real Berth daemon through docker.sock: the
// client library most Go projects test with, and one that exercises more of
// the Engine API than the docker CLI does (ephemeral host ports read back
// from inspect, image inspect before create, its labels, and exec for
// wait.ForListeningPort's check inside the container).

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

func TestTestcontainers(t *testing.T) {
	home := vmHome(t)
	mustRun(t, home, "system", "info") // starts the daemon, which serves docker.sock

	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(home, "docker.sock"))
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no user contexts or credentials
	// Ryuk, the reaper, is a container that bind-mounts the docker socket
	// into itself: Berth's guests cannot reach the host's docker.sock. The
	// test terminates its container itself.
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	if _, err := os.Stat("/.dockerenv"); err == nil {
		// In a container (as CI's runners are), testcontainers-go takes the
		// host of a unix DOCKER_HOST to be the docker network's gateway:
		// true of a docker daemon beside this container, not of Berth,
		// which publishes ports on this machine's loopback.
		t.Setenv("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: "berth/demo",
			// A line each connection gets, from busybox's persistent nc.
			Cmd:          []string{"sh", "-c", "echo ready; exec nc -ll -p 8080 -e echo hello-from-berth"},
			ExposedPorts: []string{"8080/tcp"},
			WaitingFor: wait.ForAll(wait.ForLog("ready"), wait.ForListeningPort("8080/tcp")).
				WithDeadline(3 * time.Minute),
		},
		Started: true,
	})
	if ctr != nil {
		t.Cleanup(func() { ctr.Terminate(context.Background()) })
	}
	if err != nil {
		t.Fatalf("GenericContainer: %v", err)
	}
	t.Logf("container up and ready in %v", time.Since(start).Round(time.Millisecond))

	host, err := ctr.Host(ctx)
	if err != nil {
		t.Fatal(err)
	}
	port, err := ctr.MappedPort(ctx, "8080/tcp")
	if err != nil {
		t.Fatal(err)
	}
	if port.Num() == 0 || port.Num() == 8080 {
		t.Errorf("mapped port %v: want an ephemeral host port", port)
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(host, port.Port()), 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s:%s: %v", host, port.Port(), err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if err != nil || line != "hello-from-berth\n" {
		t.Errorf("read from %s:%s: %q, %v", host, port.Port(), line, err)
	}

	insp, err := ctr.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if insp.Config.Labels["org.testcontainers"] != "true" {
		t.Errorf("labels: %v", insp.Config.Labels)
	}
	id := ctr.GetContainerID()
	if err := ctr.Terminate(ctx); err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if out := mustRun(t, home, "ls", "-aq", "--no-trunc"); strings.Contains(out, id) {
		t.Errorf("container %s is still there after Terminate:\n%s", id, out)
	}
	if r := berth(t, home, "inspect", id); r.code == 0 {
		t.Errorf("berth inspect %s after Terminate: exit 0", id)
	}
}
