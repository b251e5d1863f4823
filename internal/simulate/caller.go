package simulate

import (
	"context"
	"time"

	"github.com/hotline-cc/hotline/sip/siptest"
)

// Quiet periods that tell a prompt has ended and hotline waits for input.
const (
	promptQuiet = 700 * time.Millisecond
	promptLimit = 40 * time.Second
)

// runCaller is one caller: dial the line from the trunk, go through the
// menu, wait for an agent with a drawn patience, talk until the agent ends
// the call (or hand over to second line and wait again).
func (s *sim) runCaller(ctx context.Context, seq int) {
	who, st := s.people.newCaller(s.rnd.chance(s.cfg.RepeatShare), s.rnd.intn)
	defer s.people.hungUp(who)
	log := s.log.With("caller", seq, "number", who.number)
	s.counts.Add(func(c *Snapshot) { c.Placed++ })
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	c, err := s.trunk.Call(dctx, siptest.CallOptions{Addr: s.cfg.SIP, To: s.cfg.Number, From: who.number})
	cancel()
	if err != nil {
		log.Warn("simulate: call not connected", "status", siptest.StatusOf(err), "error", err)
		s.counts.Add(func(c *Snapshot) { c.Failed++ })
		return
	}
	defer func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Hangup(hctx)
	}()

	// The menu: wait for the greeting and menu prompt to end, press a key.
	key := s.rnd.pick(s.cfg.MenuMix)
	if !c.WaitPrompt(ctx, promptQuiet, promptLimit) {
		s.endedInIVR(ctx, c, st, log)
		return
	}
	if key == "9" { // English, then the English menu
		if err := c.SendDTMF(ctx, "9"); err != nil || !c.WaitPrompt(ctx, promptQuiet, promptLimit) {
			s.endedInIVR(ctx, c, st, log)
			return
		}
	}
	digit := key
	for i := 0; (digit == "9" || digit == "none") && i < 10; i++ {
		digit = s.rnd.pick(s.cfg.MenuMix)
	}
	if digit == "9" || digit == "none" {
		digit = "1"
	}
	if err := c.SendDTMF(ctx, digit); err != nil {
		s.endedInIVR(ctx, c, st, log)
		return
	}
	st.mu.Lock()
	if st.phase == inIVR {
		st.phase, st.waitFrom = waiting, time.Now().Add(s.cfg.Grace)
	}
	st.mu.Unlock()
	s.counts.Add(func(c *Snapshot) { c.Queued++; c.Menu[key]++ })
	log.Debug("simulate: caller queued", "menu", key)

	timer := time.NewTimer(s.cfg.Grace + s.rnd.draw(s.cfg.Patience))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.callerGone(st)
			return
		case <-c.Done():
			// hotline hung up: after a talk, or a queue exit (max wait,
			// callback offer taken, no agents).
			st.mu.Lock()
			ph, esc := st.phase, st.escalated
			st.phase = gone
			st.mu.Unlock()
			switch {
			case ph == talking:
				s.counts.Add(func(c *Snapshot) { c.Completed++ })
			case ph == waiting && esc:
				log.Info("simulate: hotline ended an escalated call before second line answered")
			case ph == waiting:
				log.Info("simulate: hotline ended the call while the caller waited")
			}
			return
		case <-st.changed:
			st.mu.Lock()
			if st.phase == waiting { // escalated: new patience for second line
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(s.cfg.Grace + s.rnd.draw(s.cfg.Patience))
			}
			st.mu.Unlock()
		case <-timer.C:
			st.mu.Lock()
			ph, esc := st.phase, st.escalated
			if ph == waiting {
				st.phase = gone
			}
			st.mu.Unlock()
			if ph != waiting {
				continue // talking: patience no longer matters
			}
			s.counts.Add(func(c *Snapshot) {
				if esc {
					c.EscalationAbandon++
				} else {
					c.Abandoned++
				}
			})
			log.Debug("simulate: caller abandoned")
			return // the deferred hangup sends BYE
		}
	}
}

func (s *sim) endedInIVR(ctx context.Context, c *siptest.Call, st *callerState, log interface {
	Info(string, ...any)
}) {
	s.callerGone(st)
	if ctx.Err() != nil {
		return
	}
	s.counts.Add(func(c *Snapshot) { c.EndedInIVR++ })
	log.Info("simulate: call ended in the IVR", "hotline_hung_up", c.RemoteHangup())
}

func (s *sim) callerGone(st *callerState) {
	st.mu.Lock()
	st.phase = gone
	st.mu.Unlock()
}

// agentAnswered records that an agent picked up the caller with number.
// It returns the caller's state (nil for a call the simulator did not
// place as a waiting caller, e.g. a callback) and whether it was an
// escalated caller.
func (s *sim) agentAnswered(number, queue string) (*callerState, bool) {
	s.counts.Add(func(c *Snapshot) { c.ByQueue[queue]++ })
	st := s.people.calling(number)
	if st == nil {
		return nil, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.phase != waiting {
		return nil, false // the caller gave up as the phone was answered
	}
	st.phase = talking
	wait := max(0, time.Since(st.waitFrom))
	esc := st.escalated
	s.counts.Add(func(c *Snapshot) {
		if esc {
			c.EscalationAnswered++
			return
		}
		c.Answered++
		c.WaitSum += wait
		if wait <= s.cfg.SL {
			c.AnsweredInSL++
		}
	})
	st.poke()
	return st, esc
}

// escalating puts a talking caller back to waiting (for second line);
// undo reverts it if hotline refused the escalation.
func (s *sim) escalating(st *callerState) (undo func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.phase != talking {
		return func() {}
	}
	st.phase, st.waitFrom, st.escalated = waiting, time.Now().Add(s.cfg.Grace), true
	st.poke()
	return func() {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.phase == waiting {
			st.phase, st.escalated = talking, false
		}
	}
}
