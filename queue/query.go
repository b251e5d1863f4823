package queue

import (
	"slices"
	"time"
)

// CallContext travels with a call: what the IVR learned and what happened
// in the queues. It is what a second-line agent sees.
type CallContext struct {
	IVRPath     []string
	Data        map[string]string
	Lang        string
	Arrived     time.Time // when the call entered the Engine
	FirstAgent  string    // the first agent who answered
	Agents      []string  // every agent who answered, in order
	Escalations []EscalationRecord
}

// EscalationRecord is one hand-over to another queue.
type EscalationRecord struct {
	At                   time.Time
	FromQueue, FromAgent string
	ToQueue              string
	Reason, Notes, Mode  string
}

// CallInfo is a live call as the API shows it.
type CallInfo struct {
	ID       string
	Caller   string
	Queue    string
	State    string // waiting | offering | connected | dialing | callback-parked
	Priority int    // effective (caller + queue)
	// Position is 1-based among the queue's waiting calls; 0 when the call
	// is not waiting (offered, connected, parked).
	Position  int
	Joined    time.Time     // joined Queue
	Wait      time.Duration // since Joined
	Escalated bool
	Callback  bool
	// PreferredAgent is set while the call is reserved for that agent.
	PreferredAgent string
	Agent          string   // connected (or dialling-back) agent
	Ringing        []string // agents being offered the call
	Consulting     string   // second-line agent consulted (answered), if any
	EWT            int      // estimate given at join, seconds
	Context        CallContext
}

// AgentInfo is an agent as the API shows it.
type AgentInfo struct {
	ID, Name string
	Line     int
	Team     string
	Skills   map[string]int
	State    AgentStatus
	Reason   string // pause reason
	Since    time.Time
	CallID   string // ringing or connected call
	Missed   int    // consecutive missed offers
	Queues   []string
	// PendingPause / PendingLogout take effect when the call and wrap-up end.
	PendingPause, PendingLogout bool
}

// QueueInfo is a queue's live state.
type QueueInfo struct {
	Name    string
	Line    int
	Waiting []CallInfo // in queue order (position 1 first), without context
	Offered int        // calls being offered to agents now
	Parked  int        // queued callbacks between attempts
	Size    int        // what MaxLen counts
	// Agents lists the serving agents' ids by state.
	Agents                     map[AgentStatus][]string
	LongestWait                time.Duration
	EWT                        int // estimate for a new caller now, seconds
	Stats                      QueueStats
	ServiceLevel               time.Duration
	AvgAnsweredWait, AvgHandle float64 // recent (EWMA) seconds
}

func (e *Engine) nowForQuery() int64 { return e.clock.Now().UnixNano() }

func (e *Engine) callInfo(c *call, now int64, withCtx bool) CallInfo {
	ci := CallInfo{ID: c.id, Caller: c.caller, Queue: c.q.cfg.Name, State: callStateNames[c.state], Priority: c.prio,
		Joined: time.Unix(0, c.joinedNs), Wait: time.Duration(now - c.joinedNs), Escalated: c.class > 0,
		Callback: c.callback, EWT: c.ewt}
	if c.inTree {
		ci.Position = treapRank(c.q.root, c) + 1
	}
	if c.restricted {
		ci.PreferredAgent = c.preferred.cfg.ID
	}
	if c.agent != nil {
		ci.Agent = c.agent.cfg.ID
	}
	for _, a := range c.ringing {
		ci.Ringing = append(ci.Ringing, a.cfg.ID)
	}
	if k := c.consult; k != nil && k.agent != nil {
		ci.Consulting = k.agent.cfg.ID
	}
	if withCtx {
		ci.Context = c.ctx
		ci.Context.IVRPath = slices.Clone(c.ctx.IVRPath)
		ci.Context.Agents = slices.Clone(c.ctx.Agents)
		ci.Context.Escalations = slices.Clone(c.ctx.Escalations)
	}
	return ci
}

// Call returns a live call with its context.
func (e *Engine) Call(id string) (CallInfo, error) {
	c, err := e.lookupCall(id)
	if err != nil {
		return CallInfo{}, err
	}
	return e.callInfo(c, e.nowForQuery(), true), nil
}

// Calls returns every live call (without context), ordered by id.
func (e *Engine) Calls() []CallInfo {
	now := e.nowForQuery()
	out := make([]CallInfo, 0, len(e.calls))
	for _, c := range e.calls {
		out = append(out, e.callInfo(c, now, false))
	}
	slices.SortFunc(out, func(a, b CallInfo) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

func (e *Engine) agentInfo(a *agent) AgentInfo {
	ai := AgentInfo{ID: a.cfg.ID, Name: a.cfg.Name, Line: a.cfg.Line, Team: a.cfg.Team, State: a.state, Reason: a.reason,
		Since: time.Unix(0, a.sinceNs), Missed: a.missed, PendingPause: a.pendingPause, PendingLogout: a.pendingLogout,
		Skills: make(map[string]int, len(a.cfg.Skills))}
	for k, v := range a.cfg.Skills {
		ai.Skills[k] = v
	}
	if a.call != nil {
		ai.CallID = a.call.id
	}
	for _, s := range a.slots {
		ai.Queues = append(ai.Queues, s.q.cfg.Name)
	}
	return ai
}

// Agent returns one agent.
func (e *Engine) Agent(id string) (AgentInfo, error) {
	a, err := e.lookupAgent(id)
	if err != nil {
		return AgentInfo{}, err
	}
	return e.agentInfo(a), nil
}

// Agents returns every agent in configuration order.
func (e *Engine) Agents() []AgentInfo {
	out := make([]AgentInfo, len(e.agentList))
	for i, a := range e.agentList {
		out[i] = e.agentInfo(a)
	}
	return out
}

// Queue returns one queue's live state.
func (e *Engine) Queue(name string) (QueueInfo, error) {
	q := e.queues[name]
	if q == nil {
		return QueueInfo{}, ErrUnknownQueue
	}
	off, park := e.pending()
	return e.queueInfo(q, e.nowForQuery(), off[q], park[q]), nil
}

// pending counts offered and parked calls per queue in one pass.
func (e *Engine) pending() (off, park map[*queue]int) {
	off, park = map[*queue]int{}, map[*queue]int{}
	for _, c := range e.calls {
		switch c.state {
		case stOffering:
			off[c.q]++
		case stParked:
			park[c.q]++
		}
	}
	return off, park
}

// Queues returns every queue's live state in configuration order.
func (e *Engine) Queues() []QueueInfo {
	now := e.nowForQuery()
	off, park := e.pending()
	out := make([]QueueInfo, len(e.queueList))
	for i, q := range e.queueList {
		out[i] = e.queueInfo(q, now, off[q], park[q])
	}
	return out
}

func (e *Engine) queueInfo(q *queue, now int64, offered, parked int) QueueInfo {
	qi := QueueInfo{Name: q.cfg.Name, Line: q.cfg.Line, Size: q.size, Offered: offered, Parked: parked, Agents: map[AgentStatus][]string{}, Stats: q.st,
		ServiceLevel: q.cfg.ServiceLevel, AvgAnsweredWait: q.ewmaWait, AvgHandle: q.ewmaAHT}
	treapWalk(q.root, func(c *call) bool {
		ci := e.callInfo(c, now, false)
		ci.Position = len(qi.Waiting) + 1
		qi.Waiting = append(qi.Waiting, ci)
		if ci.Wait > qi.LongestWait {
			qi.LongestWait = ci.Wait
		}
		return true
	})
	for _, s := range q.slots {
		qi.Agents[s.a.state] = append(qi.Agents[s.a.state], s.a.cfg.ID)
	}
	qi.EWT = e.ewt(q, len(qi.Waiting)+1)
	return qi
}

// Finished counts calls the Engine is done with, by outcome (the Reason of
// CallFinished).
func (e *Engine) Finished() map[string]int {
	out := make(map[string]int, len(e.finished))
	for k, v := range e.finished {
		out[k] = v
	}
	return out
}

// Live reports whether the Engine still has call id.
func (e *Engine) Live(id string) bool {
	_, ok := e.calls[id]
	return ok
}

// HasAgent reports whether id is a configured agent.
func (e *Engine) HasAgent(id string) bool {
	_, ok := e.agents[id]
	return ok
}

// HasQueue reports whether name is a configured queue.
func (e *Engine) HasQueue(name string) bool {
	_, ok := e.queues[name]
	return ok
}

// EscalatesTo returns the second-line queue configured for the queue call
// id is in now ("" when the queue names none); ok is false for an unknown
// call.
func (e *Engine) EscalatesTo(id string) (queue string, ok bool) {
	c := e.calls[id]
	if c == nil {
		return "", false
	}
	return c.q.cfg.EscalateTo, true
}

// CallState is the short view of a live call: its queue, state (as
// CallInfo.State), the agent connected or dialling back, the consultant
// who answered, and whether it is a queued callback. Unlike Call it copies
// nothing.
func (e *Engine) CallState(id string) (st CallStateInfo, ok bool) {
	c := e.calls[id]
	if c == nil {
		return CallStateInfo{}, false
	}
	st = CallStateInfo{Queue: c.q.cfg.Name, State: callStateNames[c.state], Callback: c.callback}
	if c.agent != nil {
		st.Agent = c.agent.cfg.ID
	}
	if k := c.consult; k != nil && k.agent != nil {
		st.Consultant = k.agent.cfg.ID
	}
	return st, true
}

// CallStateInfo is what CallState returns.
type CallStateInfo struct {
	Queue, State      string
	Agent, Consultant string
	Callback          bool
}
