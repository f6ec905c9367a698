package image

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// authFile holds the credentials `berth registry login` saved when the
// user has no docker credential helper. Mode 0600, docker's format.
const authFile = "auth.json"

// authKey is the key credentials for a registry are stored under; Docker
// Hub keeps its historical URL, as docker does.
func authKey(reg name.Registry) string {
	if reg.RegistryStr() == name.DefaultRegistry {
		return authn.DefaultAuthKey
	}
	return reg.RegistryStr()
}

type authEntry struct {
	Auth string `json:"auth"`
}

type authConfig struct {
	Auths map[string]authEntry `json:"auths"`
}

var authFileMu sync.Mutex

// fileKeychain reads Berth's credential file.
type fileKeychain struct{ path string }

func (k fileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	cfg, err := readAuthFile(k.path)
	if err != nil {
		return nil, err
	}
	key := r.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	e, ok := cfg.Auths[key]
	if !ok {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Auth: e.Auth}), nil
}

func readAuthFile(p string) (authConfig, error) {
	cfg := authConfig{Auths: map[string]authEntry{}}
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("credential file %s: %v: %w", p, err, api.ErrCorrupt)
	}
	if cfg.Auths == nil {
		cfg.Auths = map[string]authEntry{}
	}
	return cfg, nil
}

func writeAuthFile(p string, cfg authConfig) error {
	raw, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	// Credentials: readable by the user only.
	return atomicfile.WriteFile(p, raw, 0o600)
}

// dockerConfigDir is where the user's docker config.json lives.
func (s *Store) dockerConfigDir() string {
	if s.opts.DockerConfigDir != "" {
		return s.opts.DockerConfigDir
	}
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".docker")
}

// credHelper names the docker credential helper the user's docker config
// assigns to registry key ("" if none): credHelpers, then credsStore.
func (s *Store) credHelper(key string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(s.dockerConfigDir(), "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var cfg struct {
		CredsStore  string            `json:"credsStore"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", fmt.Errorf("docker config: %v: %w", err, api.ErrCorrupt)
	}
	if h := cfg.CredHelpers[key]; h != "" {
		return h, nil
	}
	return cfg.CredsStore, nil
}

func runHelper(ctx context.Context, helper, verb string, input []byte) error {
	cmd := exec.CommandContext(ctx, "docker-credential-"+helper, verb)
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("credential helper docker-credential-%s %s: %v: %s", helper, verb, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Login checks username and password against the registry, then stores
// them: in the docker credential helper the user's docker config names,
// else in Berth's 0600 credential file.
func (s *Store) Login(ctx context.Context, registry, username, password string, opts RegistryOptions) (api.RegistryLogin, error) {
	reg, err := s.checkLogin(ctx, registry, username, password, opts)
	if err != nil {
		return api.RegistryLogin{}, err
	}
	key := authKey(reg)
	helper, err := s.credHelper(key)
	if err != nil {
		return api.RegistryLogin{}, fmt.Errorf("login to %s: %w", reg.RegistryStr(), err)
	}
	if helper != "" {
		in, _ := json.Marshal(map[string]string{"ServerURL": key, "Username": username, "Secret": password})
		if err := runHelper(ctx, helper, "store", in); err != nil {
			return api.RegistryLogin{}, fmt.Errorf("login to %s: %w", reg.RegistryStr(), err)
		}
		return api.RegistryLogin{Registry: reg.RegistryStr(), Store: "docker-credential-" + helper}, nil
	}
	p := filepath.Join(s.opts.Home, authFile)
	authFileMu.Lock()
	defer authFileMu.Unlock()
	cfg, err := readAuthFile(p)
	if err != nil {
		return api.RegistryLogin{}, err
	}
	cfg.Auths[key] = authEntry{Auth: base64.StdEncoding.EncodeToString([]byte(username + ":" + password))}
	if err := writeAuthFile(p, cfg); err != nil {
		return api.RegistryLogin{}, fmt.Errorf("login to %s: save credentials: %w", reg.RegistryStr(), err)
	}
	return api.RegistryLogin{Registry: reg.RegistryStr(), Store: p}, nil
}

// CheckLogin checks username and password against the registry and
// stores nothing (docker's POST /auth: the docker CLI keeps them).
func (s *Store) CheckLogin(ctx context.Context, registry, username, password string, opts RegistryOptions) (api.RegistryLogin, error) {
	reg, err := s.checkLogin(ctx, registry, username, password, opts)
	if err != nil {
		return api.RegistryLogin{}, err
	}
	return api.RegistryLogin{Registry: reg.RegistryStr()}, nil
}

func (s *Store) checkLogin(ctx context.Context, registry, username, password string, opts RegistryOptions) (name.Registry, error) {
	reg, err := s.parseRegistry(registry, opts)
	if err != nil {
		return reg, err
	}
	if username == "" || password == "" {
		return reg, fmt.Errorf("login to %s: username and password are required: %w", reg.RegistryStr(), api.ErrInvalidArgument)
	}
	auth := &authn.Basic{Username: username, Password: password}
	tr := s.opts.Transport
	if opts.Scheme == "https" {
		tr = httpsOnly{tr}
	}
	rt, err := transport.NewWithContext(ctx, reg, auth, tr, []string{reg.Scope(transport.PullScope)})
	if err == nil {
		// The token exchange already checked a bearer registry; a basic-auth
		// one only answers on a request.
		err = pingWith(ctx, rt, reg)
	}
	if err != nil {
		return reg, fmt.Errorf("login to %s: %w", reg.RegistryStr(), registryError(reg.Repo("berth-login-check").Tag("x"), err))
	}
	return reg, nil
}

// Logout forgets the credentials for registry in both places Login may
// have put them. A registry without saved credentials is api.ErrNotFound.
func (s *Store) Logout(ctx context.Context, registry string) error {
	reg, err := s.parseRegistry(registry, RegistryOptions{})
	if err != nil {
		return err
	}
	key := authKey(reg)
	removed := false
	authFileMu.Lock()
	p := filepath.Join(s.opts.Home, authFile)
	cfg, err := readAuthFile(p)
	if err == nil {
		if _, ok := cfg.Auths[key]; ok {
			delete(cfg.Auths, key)
			err = writeAuthFile(p, cfg)
			removed = err == nil
		}
	}
	authFileMu.Unlock()
	if err != nil {
		return fmt.Errorf("logout from %s: %w", reg.RegistryStr(), err)
	}
	helper, err := s.credHelper(key)
	if err != nil {
		return fmt.Errorf("logout from %s: %w", reg.RegistryStr(), err)
	}
	if helper != "" {
		if err := runHelper(ctx, helper, "erase", []byte(key)); err == nil {
			removed = true
		} else if !removed {
			return fmt.Errorf("logout from %s: %w", reg.RegistryStr(), err)
		}
	}
	if !removed {
		return fmt.Errorf("not logged in to %s: %w", reg.RegistryStr(), api.ErrNotFound)
	}
	return nil
}

func (s *Store) parseRegistry(registry string, opts RegistryOptions) (name.Registry, error) {
	registry = strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
	registry = strings.TrimSuffix(registry, "/")
	if registry == "" || registry == "docker.io" || registry == "index.docker.io/v1" {
		registry = name.DefaultRegistry
	}
	var nopts []name.Option
	if opts.Scheme == "http" {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(registry, nopts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("registry %q: %v: %w", registry, err, api.ErrInvalidArgument)
	}
	return reg, nil
}

// pingWith asks the registry's /v2/ endpoint through an authenticating
// transport; 401 means the credentials are wrong.
func pingWith(ctx context.Context, rt http.RoundTripper, reg name.Registry) error {
	u := url.URL{Scheme: reg.Scheme(), Host: reg.RegistryStr(), Path: "/v2/"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return transport.CheckError(resp, http.StatusOK)
}
