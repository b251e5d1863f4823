package survey

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/numbering"
)

// Issue 17, item 5: a trunk call whose spoofed From or P-Asserted-Identity
// was a premium-rate number reaches the survey as the caller's number; the
// dialling policy refuses it (a dial.refused event and a skipped survey).
// Issue 15: the numbering plan gives a Primorye mobile its own zone; a
// Yakutia number (three zones) is not surveyed with unknown_zone: skip,
// and the report counts both kinds.
func TestPolicyAndZonesWhenScheduling(t *testing.T) {
	plan, err := numbering.Load("../numbering/testdata/DEF-9xx.csv", "../numbering/testdata/ABC-3xx.csv")
	if err != nil {
		t.Fatal(err)
	}
	pub := newCollector()
	policy, err := dialpolicy.New(dialpolicy.Config{Trunks: []string{"provider"}},
		dialpolicy.Deps{Publisher: pub, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	db := startDB(t)
	cfg := Config{Trunk: "provider", UnknownZone: UnknownZoneSkip} // next day, 10:00–20:00
	s, err := New(cfg, Deps{Pool: db.Pool, Switch: newFakeSwitch(), Publisher: pub, Logger: testLogger(t), Plan: plan, Dialling: policy})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	calls := []struct {
		id, caller, trunk string
		want              eventlog.Type
		reason, zone      string
	}{
		{"spoofed-809", "+78091234567", "provider", eventlog.SurveySkipped, SkipDialRefused, ""},
		{"spoofed-44909", "+449091234567", "provider", eventlog.SurveySkipped, SkipDialRefused, ""},
		{"spoofed-1900", "+19005551234", "provider", eventlog.SurveySkipped, SkipDialRefused, ""},
		{"spoofed-803", "+78031234567", "provider", eventlog.SurveySkipped, SkipDialRefused, ""},
		{"no-trunk", "+79141234567", "", eventlog.SurveySkipped, SkipDialRefused, ""},
		{"yakutia", "+79142212345", "provider", eventlog.SurveySkipped, SkipZoneUnknown, "Asia/Srednekolymsk,Asia/Ust-Nera,Asia/Yakutsk"},
		{"primorye", "+79141234567", "provider", eventlog.SurveyScheduled, "", "Asia/Vladivostok"},
	}
	for _, c := range calls {
		trunkCall(s, c.id, c.caller, c.trunk)
	}
	vlad, _ := time.LoadLocation("Asia/Vladivostok")
	for _, c := range calls {
		e := pub.waitFor(t, c.want, c.id)
		if e.Reason != c.reason {
			t.Errorf("%s: %s reason %q, want %q", c.id, c.want, e.Reason, c.reason)
		}
		var zone, status, trunk string
		if err := db.Pool.QueryRow(ctx, `SELECT zone, zone_status, trunk FROM survey WHERE call_id = $1`, c.id).Scan(&zone, &status, &trunk); err != nil {
			t.Fatal(err)
		}
		if zone != c.zone || trunk != c.trunk {
			t.Errorf("%s: zone %q trunk %q, want %q %q", c.id, zone, trunk, c.zone, c.trunk)
		}
		if c.reason == SkipDialRefused {
			refused := pub.of(eventlog.DialRefused, c.id)
			if len(refused) != 1 || refused[0].String(eventlog.KeyPurpose) != dialpolicy.PurposeSurvey {
				t.Errorf("%s: dial.refused events %+v", c.id, refused)
			}
		}
		if c.id == "primorye" {
			at, _ := e.Time(eventlog.KeyAt)
			if local := at.In(vlad); local.Hour() < 10 || local.Hour() >= 20 {
				t.Errorf("primorye: scheduled at %s Vladivostok time", local)
			}
		}
	}
	counts, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts.ByZone[ZoneKnown] != 1 || counts.ByZone[ZoneAmbiguous] != 1 || counts.ZoneSkipped != 1 {
		t.Errorf("counts %+v", counts)
	}
}

// trunkCall publishes an answered call that came in on trunk.
func trunkCall(p eventlog.Publisher, callID, caller, trunk string) {
	now := time.Now().UTC()
	p.Publish(eventlog.Event{Type: eventlog.CallArrived, CallID: callID, Caller: caller, At: now,
		Data: map[string]string{"to": "+74950000000", "trunk": trunk}})
	p.Publish(eventlog.Event{Type: eventlog.QueueJoined, CallID: callID, Queue: "q", At: now})
	p.Publish(eventlog.Event{Type: eventlog.QueueAnswered, CallID: callID, Queue: "q", Agent: "a1", Caller: caller, At: now})
	p.Publish(eventlog.Event{Type: eventlog.CallCompleted, CallID: callID, Queue: "q", Agent: "a1", At: now})
	p.Publish(eventlog.Event{Type: eventlog.CallFinished, CallID: callID, Queue: "q", Reason: "answered", At: now})
	p.Publish(eventlog.Event{Type: eventlog.CallEnded, CallID: callID, Reason: "normal", At: now})
}

// The per-number limit is shared with callbacks: a number a callback
// already dialled today is not dialled by the survey until the limit's
// window frees; the survey waits (retry), it does not fail.
func TestSurveyWaitsForTheSharedPerNumberLimit(t *testing.T) {
	pub := newCollector()
	policy, err := dialpolicy.New(dialpolicy.Config{PerNumber: 1, PerNumberWindow: 24 * time.Hour},
		dialpolicy.Deps{Publisher: pub, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The queue's callback dialled the number first.
	if err := policy.Permit(ctx, dialpolicy.Request{Purpose: dialpolicy.PurposeCallback, Number: "+74951234567", CallID: "cb", Trunk: "provider"}); err != nil {
		t.Fatal(err)
	}
	db := startDB(t)
	sw := newFakeSwitch()
	s, err := New(demoConfig(), Deps{Pool: db.Pool, Switch: sw, Publisher: pub, Logger: testLogger(t), Dialling: policy})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	trunkCall(s, "call-1", "+74951234567", "provider")
	pub.waitFor(t, eventlog.SurveyScheduled, "call-1")
	e := pub.waitFor(t, eventlog.DialRefused, "call-1")
	if e.Reason != string(dialpolicy.PerNumber) || e.String(eventlog.KeyPurpose) != dialpolicy.PurposeSurvey {
		t.Fatalf("dial.refused %+v", e)
	}
	// The job is snoozed to when the callback's dial leaves the window.
	var state string
	var next *time.Time
	limit := time.Now().Add(2 * time.Minute) // only keeps a broken test from hanging
	for time.Now().Before(limit) {
		if err := db.Pool.QueryRow(ctx, `SELECT state, next_at FROM survey WHERE call_id = 'call-1'`).Scan(&state, &next); err != nil {
			t.Fatal(err)
		}
		if next != nil && next.After(time.Now().Add(23*time.Hour)) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the database, not timing an assertion
	}
	if state != "scheduled" || next == nil || sw.dialCount("+74951234567") != 0 {
		t.Fatalf("state %s, next %v, %d dials", state, next, sw.dialCount("+74951234567"))
	}
}
