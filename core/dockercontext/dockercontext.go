package dockercontext

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/berthvm/berth/core/api"
	"github.com/berthvm/berth/core/atomicfile"
)

// Context is a docker context whose docker endpoint is Host.
type Context struct {
	Name        string
	Description string
	// Host is the endpoint as DOCKER_HOST says it: unix:///path/docker.sock.
	Host string
}

// meta is meta.json as the docker CLI writes and reads it.
type meta struct {
	Name      string
	Metadata  metaInfo
	Endpoints map[string]endpoint
}

type metaInfo struct {
	Description string `json:",omitempty"`
}

type endpoint struct {
	Host          string `json:",omitempty"`
	SkipTLSVerify bool
}

// validName is the docker CLI's rule for context names.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$`)

// ValidateName refuses a name the docker CLI would refuse, and "default",
// which names the CLI's built-in context (DOCKER_HOST or its own socket).
func ValidateName(name string) error {
	switch {
	case name == "default":
		return fmt.Errorf("docker context name %q is reserved by the docker CLI: %w", name, api.ErrInvalidArgument)
	case !validName.MatchString(name):
		return fmt.Errorf("docker context name %q: use letters, digits and _.+- (two characters at least, starting with a letter or digit): %w",
			name, api.ErrInvalidArgument)
	}
	return nil
}

// ConfigDir is the docker CLI's config dir: $DOCKER_CONFIG, else ~/.docker.
func ConfigDir() (string, error) {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Abs(d)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the docker config dir: %w", err)
	}
	return filepath.Join(home, ".docker"), nil
}

// id is the store's directory name for a context: its name's sha256.
func id(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// MetaPath is where the store keeps the context's meta.json.
func MetaPath(configDir, name string) string {
	return filepath.Join(configDir, "contexts", "meta", id(name), "meta.json")
}

func tlsDir(configDir, name string) string {
	return filepath.Join(configDir, "contexts", "tls", id(name))
}

// Write creates the context in the store under configDir, or replaces it
// (its endpoint and description) when it exists: running it again is how
// a context is updated. TLS files a former endpoint of the same name had
// are removed, as `docker context update --docker host=…` does, since a
// unix socket takes none.
func Write(configDir string, c Context) error {
	if err := ValidateName(c.Name); err != nil {
		return err
	}
	if c.Host == "" {
		return fmt.Errorf("docker context %q: no endpoint host: %w", c.Name, api.ErrInvalidArgument)
	}
	b, err := json.Marshal(meta{Name: c.Name, Metadata: metaInfo{Description: c.Description},
		Endpoints: map[string]endpoint{"docker": {Host: c.Host}}})
	if err != nil {
		return fmt.Errorf("encode docker context %q: %w", c.Name, err)
	}
	p := MetaPath(configDir, c.Name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create docker context %q: %w", c.Name, err)
	}
	if err := atomicfile.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("write docker context %q: %w", c.Name, err)
	}
	if err := os.RemoveAll(tlsDir(configDir, c.Name)); err != nil {
		return fmt.Errorf("clear docker context %q's TLS files: %w", c.Name, err)
	}
	return nil
}

// Read returns the context named name from the store under configDir; an
// absent one is api.ErrNotFound.
func Read(configDir, name string) (Context, error) {
	b, err := os.ReadFile(MetaPath(configDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return Context{}, fmt.Errorf("docker context %q: %w", name, api.ErrNotFound)
	}
	if err != nil {
		return Context{}, fmt.Errorf("read docker context %q: %w", name, err)
	}
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Context{}, fmt.Errorf("read docker context %q: %w: %w", name, err, api.ErrCorrupt)
	}
	return Context{Name: m.Name, Description: m.Metadata.Description, Host: m.Endpoints["docker"].Host}, nil
}

// Remove deletes the context from the store under configDir, as `docker
// context rm` does; it reports whether there was one.
func Remove(configDir, name string) (bool, error) {
	if err := ValidateName(name); err != nil {
		return false, err
	}
	dir := filepath.Dir(MetaPath(configDir, name))
	_, err := os.Stat(dir)
	existed := err == nil
	if err := os.RemoveAll(dir); err != nil {
		return existed, fmt.Errorf("remove docker context %q: %w", name, err)
	}
	if err := os.RemoveAll(tlsDir(configDir, name)); err != nil {
		return existed, fmt.Errorf("remove docker context %q's TLS files: %w", name, err)
	}
	return existed, nil
}
