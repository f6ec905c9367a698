package api

// Kernel sources reported in KernelInfo.Source.
const (
	KernelFromSetting = "setting" // berth system kernel set PATH
	KernelPinned      = "pinned"  // the built-in default, downloaded on first use (macOS)
	KernelDebian      = "debian"  // Debian's kernel from the kernel cache (make deps; Linux)
)

// KernelInfo says which guest kernel containers boot when they name none
// (berth run --kernel names one).
type KernelInfo struct {
	Arch   string `json:"arch"`   // guest arch of the default kernel
	Source string `json:"source"` // KernelFromSetting, KernelPinned or KernelDebian
	// Path is the kernel image in use; empty when the default is not
	// downloaded yet.
	Path    string `json:"path,omitempty"`
	Release string `json:"release,omitempty"`
	Package string `json:"package,omitempty"`
	Version string `json:"version,omitempty"`
	// Setting is the kernel set with berth system kernel set, if any.
	Setting string `json:"setting,omitempty"`
	// Default describes the built-in kernel (where it comes from).
	Default KernelDefault `json:"default"`
	// Problem says why the kernel in use cannot boot, and what to do.
	Problem string `json:"problem,omitempty"`
}

// KernelDefault is the kernel containers boot without a setting.
type KernelDefault struct {
	Package    string   `json:"package,omitempty"`
	Version    string   `json:"version,omitempty"`
	Release    string   `json:"release,omitempty"`
	SHA256     string   `json:"sha256,omitempty"`
	Size       int64    `json:"size,omitempty"`
	URLs       []string `json:"urls,omitempty"`
	Downloaded bool     `json:"downloaded"`
	Path       string   `json:"path,omitempty"`
	// Note says how it is obtained ("downloaded on first use", "make deps").
	Note string `json:"note,omitempty"`
}

// KernelSetRequest sets (Path) or clears (Default) the kernel setting.
type KernelSetRequest struct {
	Path    string `json:"path,omitempty"`
	Default bool   `json:"default,omitempty"`
}
