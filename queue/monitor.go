package queue

import (
	"errors"
	"fmt"

	"github.com/hotline-cc/hotline/sip"
)

// ErrNotConnected is returned by Connected when the call has no agent on
// the line.
var ErrNotConnected = errors.New("queue: the call is not connected to an agent")

// Connected is a call connected to an agent, for a supervisor to monitor:
// the agent's answered leg (the one a whisper reaches) and its queue.
type Connected struct {
	CallID, Agent, Queue string
	AgentLeg             sip.Leg
}

// Connected returns the agent leg of a connected call: ErrUnknownCall for
// an unknown call, ErrNotConnected when it waits, rings or is otherwise
// not bridged to its agent.
func (r *Runner) Connected(callID string) (Connected, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.eng.CallState(callID)
	if !ok {
		return Connected{}, fmt.Errorf("%w: %q", ErrUnknownCall, callID)
	}
	if st.State != callStateNames[stConnected] || st.Agent == "" {
		return Connected{}, fmt.Errorf("%w: call %q is %s", ErrNotConnected, callID, st.State)
	}
	conn := r.conns[st.Agent]
	rec := r.calls[callID]
	if conn == nil || conn.callID != callID || rec == nil || rec.bridge == nil {
		return Connected{}, fmt.Errorf("%w: call %q", ErrNotConnected, callID)
	}
	return Connected{CallID: callID, Agent: st.Agent, Queue: st.Queue, AgentLeg: conn.leg}, nil
}

// AgentByUser returns the agent id of a SIP user, or of an agent id (the
// digits a supervisor dials after a monitor feature code).
func (r *Runner) AgentByUser(userOrID string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.bySIP[userOrID]; ok {
		return id, true
	}
	if _, err := r.eng.Agent(userOrID); err == nil {
		return userOrID, true
	}
	return "", false
}

// AgentCall returns the call the agent is on ("" when none).
func (r *Runner) AgentCall(agentID string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, err := r.eng.Agent(agentID)
	if err != nil {
		return ""
	}
	return a.CallID
}
