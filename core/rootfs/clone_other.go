//go:build !linux && !darwin

package rootfs

import "errors"

func cloneFile(src, dst string) error { return errors.New("no copy-on-write clones on this system") }
