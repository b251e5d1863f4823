package reporting

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

func TestCallerHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	s := newStore(t, nil)
	ctx := context.Background()
	g := &gen{}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const me = "+79123456789"
	var evs []eventlog.Event
	// Two days ago, outside a 1-day window: answered and resolved.
	evs = append(evs, g.answered("old", me, "first-line", t0.Add(-48*time.Hour), 5*time.Second, "a1", time.Minute, 0)...)
	evs = append(evs, g.ev(t0.Add(-47*time.Hour), eventlog.CallDisposition, "old", "", "a1", map[string]string{}))
	evs[len(evs)-1].Reason = "resolved"
	// This morning: answered by a2, escalated to second line, not resolved there.
	evs = append(evs, g.answered("esc", "89123456789", "first-line", t0, 5*time.Second, "a2", time.Minute, 0)...)
	evs = append(evs, g.ev(t0.Add(30*time.Second), eventlog.CallEscalated, "esc", "first-line", "a2", map[string]string{"to_queue": "second-line"}))
	d := g.ev(t0.Add(5*time.Minute), eventlog.CallDisposition, "esc", "", "b1", nil)
	d.Reason = "not_resolved"
	evs = append(evs, d)
	// The old call's survey (outside the window) and the escalated one's.
	evs = append(evs, g.ev(t0.Add(-46*time.Hour), eventlog.SurveyCompleted, "old", "", "", map[string]string{"rating": "5", "solved": "yes"}))
	evs = append(evs, g.ev(t0.Add(10*time.Minute), eventlog.SurveyCompleted, "esc", "", "", map[string]string{"rating": "2", "solved": "no"}))
	// An hour later: abandoned.
	ab := g.abandoned("ab", "first-line", t0.Add(time.Hour), 30*time.Second)
	for i := range ab {
		ab[i].Caller = me
	}
	evs = append(evs, ab...)
	// In progress now (not ended): not counted.
	live := g.ev(t0.Add(2*time.Hour), eventlog.CallArrived, "now", "", "", nil)
	live.Caller = me
	evs = append(evs, live, g.ev(t0.Add(2*time.Hour), eventlog.QueueJoined, "now", "first-line", "", nil))
	// Someone else.
	evs = append(evs, g.answered("other", "+79990000000", "first-line", t0, time.Second, "a1", time.Minute, 0)...)
	if err := s.InsertEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	since := t0.Add(-24 * time.Hour)
	h, err := s.CallerHistory(ctx, "8 (912) 345-67-89", since)
	if err != nil {
		t.Fatal(err)
	}
	if h.Calls != 2 || !h.LastCallAt.Equal(t0.Add(time.Hour)) || h.LastOutcome != "abandoned" || h.LastQueue != "first-line" || h.LastAgent != "" || h.LastCSI != 2 {
		t.Errorf("history = %+v", h)
	}
	if e := h.OpenEscalation; e == nil || e.CallID != "esc" || e.Queue != "second-line" || !e.At.Equal(t0.Add(30*time.Second)) {
		t.Errorf("open escalation = %+v", e)
	}
	// A later resolved call closes the escalation.
	var later []eventlog.Event
	later = append(later, g.answered("fixed", me, "second-line", t0.Add(3*time.Hour), time.Second, "b1", time.Minute, 0)...)
	r := g.ev(t0.Add(3*time.Hour+2*time.Minute), eventlog.CallDisposition, "fixed", "", "b1", nil)
	r.Reason = "resolved"
	later = append(later, r)
	if err := s.InsertEvents(ctx, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	h, err = s.CallerHistory(ctx, me, since)
	if err != nil {
		t.Fatal(err)
	}
	if h.Calls != 3 || h.LastOutcome != "resolved" || h.LastAgent != "b1" || h.LastQueue != "second-line" || h.OpenEscalation != nil {
		t.Errorf("after a resolved call: %+v (escalation %+v)", h, h.OpenEscalation)
	}
	// Never seen, and anonymous.
	for _, c := range []string{"+79000000001", "anonymous"} {
		if h, err := s.CallerHistory(ctx, c, since); err != nil || h.Calls != 0 || h.OpenEscalation != nil || h.LastCSI != 0 {
			t.Errorf("%s: %+v, %v", c, h, err)
		}
	}
}
