package dockerapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/berthvm/berth/core/api"
)

func TestCreateSpec(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       api.ContainerSpec
		err        error
	}{
		{"minimal", `{"Image":"alpine","Cmd":null,"Entrypoint":null}`, api.ContainerSpec{Name: "n", Image: "alpine"}, nil},
		{"config", `{"Image":"alpine","Cmd":["sh","-c","x"],"Entrypoint":"/bin/tini","Env":["A=1"],"WorkingDir":"/w","User":"1:2",
			"Labels":{"a":"b"},"Tty":true,"OpenStdin":true,"Hostname":"h"}`,
			api.ContainerSpec{Name: "n", Image: "alpine", Cmd: []string{"sh", "-c", "x"}, Entrypoint: []string{"/bin/tini"},
				Env: []string{"A=1"}, WorkingDir: "/w", User: "1:2", Labels: map[string]string{"a": "b"}, TTY: true, OpenStdin: true, Hostname: "h"}, nil},
		{"entrypoint cleared", `{"Image":"alpine","Entrypoint":[""]}`, api.ContainerSpec{Name: "n", Image: "alpine", Entrypoint: []string{}}, nil},
		{"resources", `{"Image":"a","HostConfig":{"Memory":268435457,"NanoCpus":1500000000,"AutoRemove":true,"ReadonlyRootfs":true,
			"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3}}}`,
			api.ContainerSpec{Name: "n", Image: "a", MemoryMiB: 257, CPUs: 2, AutoRemove: true, ReadOnlyRoot: true,
				RestartPolicy: api.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}}, nil},
		{"restart no", `{"Image":"a","HostConfig":{"RestartPolicy":{"Name":"no"}}}`, api.ContainerSpec{Name: "n", Image: "a"}, nil},
		{"networks", `{"Image":"a","HostConfig":{"NetworkMode":"none"}}`, api.ContainerSpec{Name: "n", Image: "a", Networks: []string{"none"}}, nil},
		{"named network", `{"Image":"a","HostConfig":{"NetworkMode":"app"}}`, api.ContainerSpec{Name: "n", Image: "a", Networks: []string{"app"}}, nil},
		{"bridge is the default", `{"Image":"a","HostConfig":{"NetworkMode":"bridge"}}`, api.ContainerSpec{Name: "n", Image: "a"}, nil},
		// docker-compose 1.29's create (API 1.41): the service's name as an alias.
		{"compose aliases", `{"Image":"a","HostConfig":{"NetworkMode":"p_default","LogConfig":{"Type":"","Config":{}}},
			"NetworkingConfig":{"EndpointsConfig":{"p_default":{"Aliases":["server"],"IPAMConfig":{}}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Networks: []string{"p_default"}, NetworkAliases: map[string][]string{"p_default": {"server"}}}, nil},
		// docker run's endpoint for the default network, and for none.
		{"default endpoint", `{"Image":"a","HostConfig":{"NetworkMode":"default"},"NetworkingConfig":{"EndpointsConfig":{"default":{}}}}`,
			api.ContainerSpec{Name: "n", Image: "a"}, nil},
		{"none endpoint", `{"Image":"a","HostConfig":{"NetworkMode":"none"},"NetworkingConfig":{"EndpointsConfig":{"none":{}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Networks: []string{"none"}}, nil},
		// API 1.44: docker run --network a --network b.
		{"two networks", `{"Image":"a","HostConfig":{"NetworkMode":"a"},"NetworkingConfig":{"EndpointsConfig":{"a":{},"b":{"Aliases":["x"]}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Networks: []string{"a", "b"}, NetworkAliases: map[string][]string{"b": {"x"}}}, nil},
		{"alias on the default network", `{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"bridge":{"Aliases":["x"]}}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"another network from the default", `{"Image":"a","NetworkingConfig":{"EndpointsConfig":{"app":{"Aliases":["x"]}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Networks: []string{"default", "app"}, NetworkAliases: map[string][]string{"app": {"x"}}}, nil},
		{"fixed address", `{"Image":"a","HostConfig":{"NetworkMode":"app"},"NetworkingConfig":{"EndpointsConfig":{"app":{"IPAMConfig":{"IPv4Address":"10.0.0.9"}}}}}`,
			api.ContainerSpec{}, api.ErrInvalidArgument},
		{"links", `{"Image":"a","HostConfig":{"NetworkMode":"app"},"NetworkingConfig":{"EndpointsConfig":{"app":{"Links":["db"]}}}}`,
			api.ContainerSpec{}, api.ErrInvalidArgument},
		{"ports", `{"Image":"a","HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}],"53/udp":[{"HostPort":""}]}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Ports: []api.PortBinding{
				{ContainerPort: 53, Proto: "udp"}, {HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Proto: "tcp"}}}, nil},
		{"mounts", `{"Image":"a","HostConfig":{"Binds":["/src:/src:ro","data:/data"],"Tmpfs":{"/run":"size=1m"},
			"Mounts":[{"Type":"volume","Source":"v","Target":"/v","VolumeOptions":{"NoCopy":true}},{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":4096}}]}}`,
			api.ContainerSpec{Name: "n", Image: "a", Mounts: []api.Mount{
				{Type: api.MountBind, Source: "/src", Target: "/src", ReadOnly: true},
				{Type: api.MountVolume, Source: "data", Target: "/data"},
				{Type: api.MountVolume, Source: "v", Target: "/v", NoCopy: true},
				{Type: api.MountTmpfs, Target: "/t", TmpfsSize: 4096},
				{Type: api.MountTmpfs, Target: "/run", TmpfsSize: 1 << 20},
			}}, nil},
		// Volumes: an anonymous volume where no mount is (docker run -v /v);
		// docker-compose lists its binds' targets too.
		{"anonymous volumes", `{"Image":"a","Volumes":{"/www":{},"/anon":{},"/t":{}},"HostConfig":{"Binds":["p_site:/www:rw"],"Tmpfs":{"/t":""},
			"Links":[],"VolumesFrom":[],"LogConfig":{"Type":"json-file","Config":{}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Mounts: []api.Mount{
				{Type: api.MountVolume, Source: "p_site", Target: "/www"},
				{Type: api.MountVolume, Target: "/anon"},
				{Type: api.MountTmpfs, Target: "/t"},
			}}, nil},
		{"relative volume", `{"Image":"a","Volumes":{"data":{}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"host links", `{"Image":"a","HostConfig":{"Links":["db:db"]}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"volumes from", `{"Image":"a","HostConfig":{"VolumesFrom":["other"]}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"log driver", `{"Image":"a","HostConfig":{"LogConfig":{"Type":"syslog"}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"log options", `{"Image":"a","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-size":"10m","max-file":"2"}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Log: api.LogConfig{MaxSize: 10_000_000, MaxFiles: 2}}, nil},
		{"local log options", `{"Image":"a","HostConfig":{"LogConfig":{"Type":"local","Config":{"max-size":"1k"}}}}`,
			api.ContainerSpec{Name: "n", Image: "a", Log: api.LogConfig{MaxSize: 1000}}, nil},
		{"bad log size", `{"Image":"a","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-size":"lots"}}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"unknown log option", `{"Image":"a","HostConfig":{"LogConfig":{"Config":{"max-age":"1d"}}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"no image", `{}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"host network", `{"Image":"a","HostConfig":{"NetworkMode":"host"}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"bad port", `{"Image":"a","HostConfig":{"PortBindings":{"80/sctp":[]}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"port range", `{"Image":"a","HostConfig":{"PortBindings":{"80/tcp":[{"HostPort":"8000-8001"}]}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"bad bind", `{"Image":"a","HostConfig":{"Binds":["/a:/b:zz"]}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"relative target", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"bind","Source":"/a","Target":"b"}]}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"npipe", `{"Image":"a","HostConfig":{"Mounts":[{"Type":"npipe","Source":"x","Target":"/b"}]}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
		{"bad restart", `{"Image":"a","HostConfig":{"RestartPolicy":{"Name":"sometimes"}}}`, api.ContainerSpec{}, api.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req CreateRequest
			if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
				t.Fatal(err)
			}
			got, err := req.Spec("n")
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
