package callback

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/pgtest"
)

// TestSchedule: a callback an agent schedules is a row of source agent
// with a River job for its due time; one due now is handed to the queue at
// once with its place and wait from the due time; it is published as
// callback.requested naming the agent, the call it came from, the due
// time and the note; the agent's list has both; bad requests are
// ErrInvalid.
func TestSchedule(t *testing.T) {
	db := pgtest.New(t)
	ctx := context.Background()
	if err := Migrate(ctx, db.Pool); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Queues: map[string]QueueConfig{"q": {Attempts: 2, Expire: 24 * time.Hour}}}
	s, line, ev := start(t, db, cfg, nil)

	later := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	idLater, err := s.Schedule(ctx, Scheduled{OfCall: "call-1", Number: "+79001112233", Trunk: "provider", Queue: "q", Lang: "ru",
		Agent: "a1", Notes: "the refund", Due: later})
	if err != nil {
		t.Fatal(err)
	}
	var state, source, agent, ofCall string
	var due, jobAt, deadline time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT c.state, c.source, c.agent, c.of_call, c.due_at, c.deadline, j.scheduled_at
		FROM callback c JOIN river_job j ON j.args->>'call_id' = c.call_id WHERE c.call_id = $1`, idLater).
		Scan(&state, &source, &agent, &ofCall, &due, &deadline, &jobAt); err != nil {
		t.Fatal(err)
	}
	if state != "scheduled" || source != "agent" || agent != "a1" || ofCall != "call-1" || !due.Equal(later) || !jobAt.Equal(later) ||
		!deadline.Equal(later.Add(24*time.Hour)) {
		t.Errorf("row: %s %s %s %s due %s job %s deadline %s", state, source, agent, ofCall, due, jobAt, deadline)
	}
	e := wait(t, "callback.requested", ev.ch)
	if d, _ := e.Time(eventlog.KeyDue); e.Type != eventlog.CallbackRequested || e.CallID != idLater || e.Reason != "agent" || e.Agent != "a1" ||
		e.String(eventlog.KeyOfCall) != "call-1" || !d.Equal(later) || e.String(eventlog.KeyNotes) != "the refund" || e.Caller != "+79001112233" {
		t.Errorf("event %+v", e)
	}
	select {
	case cb := <-line.got:
		t.Fatalf("a callback due in 3 h was handed over now: %+v", cb)
	default:
	}

	// Due now (a few seconds ago, as a slow form sends it): in line at once.
	idNow, err := s.Schedule(ctx, Scheduled{OfCall: "call-2", Number: "+79001112244", Trunk: "provider", Queue: "q", Agent: "a1",
		Due: time.Now().Add(-5 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	cb := wait(t, "the hand-over", line.got)
	if cb.ID != idNow || cb.Source != "agent" || cb.Number != "+79001112244" || cb.Trunk != "provider" || cb.Attempts != 0 ||
		!cb.Joined.Equal(cb.Requested) || time.Since(cb.Joined) > time.Minute {
		t.Errorf("handed over %+v", cb)
	}
	// The line gets the callback before the job's transaction commits its
	// 'queued' state: wait for that commit before reading the list.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var st string
		if err := db.Pool.QueryRow(ctx, `SELECT state FROM callback WHERE call_id = $1`, idNow).Scan(&st); err != nil {
			t.Fatal(err)
		}
		if st == "queued" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s 10 s after its hand-over, want queued", idNow, st)
		}
	}
	list, err := s.OfAgent(ctx, "a1", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].CallID != idLater || list[1].CallID != idNow || list[1].State != "queued" || list[0].Number != "+79001112233" {
		t.Errorf("a1's callbacks: %+v", list)
	}
	if other, _ := s.OfAgent(ctx, "a2", 10); len(other) != 0 {
		t.Errorf("a2's callbacks: %+v", other)
	}

	for _, bad := range []Scheduled{
		{Number: "+79001112233", Queue: "nope", Due: later},
		{Number: "anonymous", Queue: "q", Due: later},
		{Number: "+79001112233", Queue: "q", Due: time.Now().Add(-2 * time.Minute)},
	} {
		if _, err := s.Schedule(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Schedule(%+v): %v, want ErrInvalid", bad, err)
		}
	}
}
