package api

import (
	"fmt"
	"strconv"
	"strings"
)

// Restart policy names, as docker spells them.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"
)

// RestartPolicy says when the daemon starts a container again by itself,
// shaped like docker's HostConfig.RestartPolicy. The zero value is "no".
type RestartPolicy struct {
	Name string `json:"name,omitempty"`
	// MaximumRetryCount bounds on-failure's restarts; 0 means no bound.
	MaximumRetryCount int `json:"maximumRetryCount,omitempty"`
}

// IsNone reports a policy that never restarts ("no" or unset).
func (p RestartPolicy) IsNone() bool { return p.Name == "" || p.Name == RestartNo }

// String is the policy in --restart's syntax.
func (p RestartPolicy) String() string {
	switch {
	case p.IsNone():
		return RestartNo
	case p.Name == RestartOnFailure && p.MaximumRetryCount > 0:
		return p.Name + ":" + strconv.Itoa(p.MaximumRetryCount)
	}
	return p.Name
}

// ParseRestartPolicy reads --restart's value: no, always, unless-stopped
// or on-failure[:MAX-RETRIES]. The result is also validated.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, count, hasCount := strings.Cut(s, ":")
	if hasCount && name == "" {
		return RestartPolicy{}, fmt.Errorf("invalid restart policy format: no policy provided before colon: %w", ErrInvalidArgument)
	}
	p := RestartPolicy{Name: name}
	if count != "" {
		n, err := strconv.Atoi(count)
		if err != nil {
			return RestartPolicy{}, fmt.Errorf("invalid restart policy format: maximum retry count must be an integer: %w", ErrInvalidArgument)
		}
		p.MaximumRetryCount = n
	}
	return p, p.Validate()
}

// Validate checks the policy as docker's daemon does.
func (p RestartPolicy) Validate() error {
	switch p.Name {
	case "", RestartNo, RestartAlways, RestartUnlessStopped:
		switch {
		case p.MaximumRetryCount < 0:
			return fmt.Errorf("invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be negative: %w", ErrInvalidArgument)
		case p.MaximumRetryCount > 0:
			return fmt.Errorf("invalid restart policy: maximum retry count can only be used with 'on-failure': %w", ErrInvalidArgument)
		}
		return nil
	case RestartOnFailure:
		if p.MaximumRetryCount < 0 {
			return fmt.Errorf("invalid restart policy: maximum retry count cannot be negative: %w", ErrInvalidArgument)
		}
		return nil
	}
	return fmt.Errorf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s': %w",
		p.Name, RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped, ErrInvalidArgument)
}

// ContainerUpdate is what `berth update` changes in a container; nil
// fields stay as they are. The restart policy applies at once; CPUs and
// memory size the VM, so they apply when the container next starts.
type ContainerUpdate struct {
	RestartPolicy *RestartPolicy `json:"restartPolicy,omitempty"`
	CPUs          *int           `json:"cpus,omitempty"`
	MemoryMiB     *int           `json:"memoryMiB,omitempty"`
}
