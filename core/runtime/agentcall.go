package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/berthvm/berth/core/api"
)

// agentCall runs a guest agent call that answers at once, bounded by
// Config.AgentTimeout as well as ctx: the guest of a VM that is paused
// or wedged never answers, and its callers (stats, exec, stop) must not
// hang with it. A timeout reads as the guest not answering.
func (m *Manager) agentCall(ctx context.Context, call func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, m.cfg.AgentTimeout)
	defer cancel()
	err := call(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("the guest agent did not answer within %v: the VM may be frozen or overloaded: %w", m.cfg.AgentTimeout, api.ErrUnavailable)
	}
	return err
}
