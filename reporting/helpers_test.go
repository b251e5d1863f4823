package reporting

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// gen builds events with unique, time-sortable IDs.
type gen struct {
	n int
}

func (g *gen) ev(at time.Time, typ eventlog.Type, call, q, agent string, data map[string]string) eventlog.Event {
	g.n++
	return eventlog.Event{ID: fmt.Sprintf("e%09d", g.n), At: at.UTC(), Type: typ, CallID: call, Queue: q, Agent: agent, Data: data}
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func msStr(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }

// answered: a call that joins q at t, is answered by agent after wait,
// talks talk, wraps up wrap.
func (g *gen) answered(call, caller, q string, t time.Time, wait time.Duration, agent string, talk, wrap time.Duration) []eventlog.Event {
	arr := g.ev(t, eventlog.CallArrived, call, "", "", map[string]string{"to": "100"})
	arr.Caller = caller
	ans := t.Add(wait)
	return []eventlog.Event{
		arr,
		g.ev(t, eventlog.QueueJoined, call, q, "", nil),
		g.ev(ans.Add(-2*time.Second), eventlog.AgentOffered, call, q, agent, nil),
		g.ev(ans, eventlog.QueueAnswered, call, q, agent, map[string]string{"wait_ms": msStr(wait)}),
		g.ev(ans.Add(talk), eventlog.CallCompleted, call, q, agent, map[string]string{"talk_ms": msStr(talk), "by": "caller"}),
		g.ev(ans.Add(talk), eventlog.CallEnded, call, "", "", nil),
		g.ev(ans.Add(talk+wrap), eventlog.WrapupEnded, call, q, agent, map[string]string{"wrapup_ms": msStr(wrap)}),
	}
}

func (g *gen) abandoned(call, q string, t time.Time, wait time.Duration) []eventlog.Event {
	return []eventlog.Event{
		g.ev(t, eventlog.CallArrived, call, "", "", nil),
		g.ev(t, eventlog.QueueJoined, call, q, "", nil),
		g.ev(t.Add(wait), eventlog.QueueAbandoned, call, q, "", map[string]string{"wait_ms": msStr(wait)}),
		g.ev(t.Add(wait), eventlog.CallEnded, call, "", "", nil),
	}
}

// visitsOf folds events per call.
func visitsOf(evs []eventlog.Event, cfg *Config) ([]Call, []Visit) {
	by := map[string][]eventlog.Event{}
	var order []string
	for _, e := range evs {
		if e.CallID == "" {
			continue
		}
		if _, ok := by[e.CallID]; !ok {
			order = append(order, e.CallID)
		}
		by[e.CallID] = append(by[e.CallID], e)
	}
	var cs []Call
	var vs []Visit
	for _, id := range order {
		c, v := BuildCall(by[id], cfg)
		cs = append(cs, c)
		vs = append(vs, v...)
	}
	return cs, vs
}

// ratio checks a Ratio against num/den exactly (num, den as written by hand).
func ratio(t *testing.T, name string, got Ratio, num, den float64) {
	t.Helper()
	if math.Abs(got.Num-num) > 1e-9 || math.Abs(got.Den-den) > 1e-9 {
		t.Errorf("%s = %v/%v, want %v/%v", name, got.Num, got.Den, num, den)
	}
}

func undefined(t *testing.T, name string, got Ratio) {
	t.Helper()
	if _, ok := got.Value(); ok {
		t.Errorf("%s = %v/%v, want undefined (no data)", name, got.Num, got.Den)
	}
}

func approx(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = nil, want %v", name, want)
		return
	}
	if math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s = %v, want %v", name, *got, want)
	}
}
