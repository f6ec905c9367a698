//go:build darwin && arm64

package vz

import (
	"fmt"

	vzf "github.com/Code-Hex/vz/v3"
)

// rosettaShare shares Rosetta for Linux with the guest under tag; the
// agent mounts it and registers it with binfmt_misc for x86_64 ELF files.
func rosettaShare(tag string) (vzf.DirectorySharingDeviceConfiguration, error) {
	share, err := vzf.NewLinuxRosettaDirectoryShare()
	if err != nil {
		return nil, fmt.Errorf("rosetta: %w (is it installed? softwareupdate --install-rosetta --agree-to-license)", err)
	}
	fs, err := vzf.NewVirtioFileSystemDeviceConfiguration(tag)
	if err != nil {
		return nil, fmt.Errorf("rosetta share %q: %w", tag, err)
	}
	fs.SetDirectoryShare(share)
	return fs, nil
}
