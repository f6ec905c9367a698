package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// listedPackage is the part of `go list -json` output the checker uses.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	ForTest    string
	Standard   bool
	DepOnly    bool
	GoFiles    []string
	CgoFiles   []string
	MFiles     []string // Objective-C files
	Imports    []string
	ImportMap  map[string]string
	Module     *listedModule
	Error      *listedError
	DepsErrors []*listedError
}

type listedModule struct {
	Path      string
	Version   string
	Main      bool
	Dir       string
	GoVersion string
	Replace   *listedModule
}

type listedError struct {
	ImportStack []string
	Pos         string
	Err         string
}

// goList runs `go list -e -deps -json` for darwin/goarch with cgo enabled.
// With CGO_ENABLED=1 the go command puts files that import "C" in CgoFiles
// instead of dropping them, and it does not run cgo or a C compiler for
// `list`, so this works on a machine without a macOS SDK. Packages come out
// in dependency order. The go command downloads missing modules itself (the
// module's go.sum must list them, as for any build).
func goList(ctx context.Context, dir, goarch string, tests bool, patterns []string) ([]*listedPackage, error) {
	args := []string{"list", "-e", "-deps", "-json=ImportPath,Name,Dir,ForTest,Standard,DepOnly,GoFiles,CgoFiles,MFiles,Imports,ImportMap,Module,Error,DepsErrors"}
	if tests {
		args = append(args, "-test")
	}
	args = append(args, "--")
	args = append(args, patterns...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=darwin", "GOARCH="+goarch, "CGO_ENABLED=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list for darwin/%s in %s: %w: %s", goarch, dir, err, strings.TrimSpace(stderr.String()))
	}
	var pkgs []*listedPackage
	dec := json.NewDecoder(&stdout)
	for {
		p := new(listedPackage)
		if err := dec.Decode(p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output for darwin/%s: %w", goarch, err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("go list for darwin/%s in %s matched no packages for %s", goarch, dir, strings.Join(patterns, " "))
	}
	return pkgs, nil
}

// inMainModule reports whether p is the project's code (including its test
// variants), as opposed to the standard library or a dependency.
func (p *listedPackage) inMainModule() bool {
	return p.Module != nil && p.Module.Main
}

// patchedIn reports whether p belongs to a dependency that go.mod replaces
// with a directory inside the project's tree (root): a patched copy of a
// module kept in the repository, such as packaging/third_party/vz. Its code
// is then the project's to get right, unlike a module from the proxy.
func (p *listedPackage) patchedIn(root string) bool {
	m := p.Module
	if root == "" || m == nil || m.Main || m.Replace == nil || m.Replace.Version != "" || m.Dir == "" {
		return false
	}
	rel, err := filepath.Rel(root, m.Dir)
	return err == nil && rel != "." && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// isTestMain reports whether p is the generated test main package ("x.test"),
// whose single file the go command writes into its cache: not project code.
func (p *listedPackage) isTestMain() bool {
	return p.ForTest == "" && p.Name == "main" && strings.HasSuffix(p.ImportPath, ".test")
}
