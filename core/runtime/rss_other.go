//go:build !linux

package runtime

// processRSS is not read on this OS yet; stats show the guest's own view.
func processRSS(pid int) uint64 { return 0 }
