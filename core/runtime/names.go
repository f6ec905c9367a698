package runtime

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"

	"github.com/berthvm/berth/core/api"
)

// NewID returns a random 64-hex-digit container id, as docker's.
func NewID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b[:])
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// CheckName validates a user-given container name (docker's rule).
func CheckName(name string) error {
	if len(name) > 128 || !validName.MatchString(name) {
		return fmt.Errorf("invalid container name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit, at most 128 characters: %w",
			name, api.ErrInvalidArgument)
	}
	return nil
}

var (
	nameAdjectives = []string{"agile", "bold", "brave", "bright", "calm", "clever", "cool", "eager", "fair",
		"fond", "gentle", "happy", "jolly", "keen", "kind", "lucid", "merry", "modest", "nimble", "noble",
		"quiet", "quick", "sharp", "steady", "sunny", "swift", "tender", "vivid", "wise", "zen"}
	nameNouns = []string{"anchor", "bay", "beacon", "buoy", "cove", "current", "dock", "ferry", "fjord",
		"harbor", "helm", "inlet", "island", "jetty", "keel", "lagoon", "lighthouse", "mast", "mooring",
		"pier", "quay", "reef", "sail", "shoal", "skiff", "tide", "wake", "wharf"}
)

// NewName returns a random "adjective_noun" name; taken reports names in
// use, and a numeric suffix is added until one is free.
func NewName(taken func(string) bool) string {
	pick := func(list []string) string {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
		if err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err))
		}
		return list[n.Int64()]
	}
	base := pick(nameAdjectives) + "_" + pick(nameNouns)
	name := base
	for i := 2; taken(name); i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	return name
}
