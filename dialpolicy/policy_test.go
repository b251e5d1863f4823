package dialpolicy

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

type sink struct {
	mu sync.Mutex
	ev []eventlog.Event
}

func (s *sink) Publish(e eventlog.Event) { s.mu.Lock(); s.ev = append(s.ev, e); s.mu.Unlock() }

func newPolicy(t *testing.T, cfg Config) (*Policy, *fakeClock, *sink) {
	t.Helper()
	msk, err := time.LoadLocation("Europe/Moscow")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Zone = msk
	clock := &fakeClock{t: time.Date(2026, 3, 10, 12, 0, 0, 0, msk)}
	s := &sink{}
	p, err := New(cfg, Deps{Clock: clock, Publisher: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return p, clock, s
}

// The numbers of issue 17, item 5: a trunk call whose From or
// P-Asserted-Identity was a premium-rate number reached the survey (and
// callbacks) as the caller's number.
func TestSpoofedPremiumNumbersAreRefused(t *testing.T) {
	p, _, s := newPolicy(t, Config{})
	cases := []struct {
		name, number, trunk string
		want                Reason
	}{
		{"Russian premium 809 (spoofed From)", "+78091234567", "provider", Denied},
		{"Russian premium 803 (spoofed PAI)", "+78031234567", "provider", Denied},
		{"UK premium 909", "+449091234567", "provider", Denied},
		{"US premium 900", "+19005551234", "provider", Denied},
		{"US 976", "+19765551234", "provider", Denied},
		{"international premium 979", "+979123456789", "provider", Denied},
		{"satellite 881", "+881612345678", "provider", Denied},
		{"Kazakhstan: not a configured country", "+77011234567", "provider", NotAllowed},
		{"German number: not a configured country", "+4930123456", "provider", NotAllowed},
		{"not E.164", "89141234567", "provider", NotE164},
		{"anonymous", "anonymous", "provider", NotE164},
		{"too short", "+7914", "provider", NotE164},
		{"not from a trunk (API, agent phone)", "+79141234567", "", NotInbound},
		{"Primorye mobile", "+79141234567", "provider", ""},
		{"Moscow landline", "+74951234567", "provider", ""},
		{"freephone 800 is allowed", "+78001234567", "provider", ""},
	}
	for _, purpose := range []string{PurposeSurvey, PurposeCallback} {
		for _, c := range cases {
			t.Run(purpose+"/"+c.name, func(t *testing.T) {
				before := len(s.ev)
				err := p.Permit(context.Background(), Request{Purpose: purpose, Number: c.number, CallID: "c1", Trunk: c.trunk})
				if c.want == "" {
					if err != nil {
						t.Fatalf("Permit = %v, want allowed", err)
					}
					if len(s.ev) != before {
						t.Fatalf("an allowed dial published %v", s.ev[before:])
					}
					return
				}
				ref, ok := AsRefusal(err)
				if !ok || ref.Reason != c.want {
					t.Fatalf("Permit = %v, want refusal %s", err, c.want)
				}
				if !ref.Reason.Permanent() {
					t.Fatalf("%s is not permanent", ref.Reason)
				}
				if len(s.ev) != before+1 {
					t.Fatalf("want one dial.refused event, got %d", len(s.ev)-before)
				}
				e := s.ev[len(s.ev)-1]
				if e.Type != eventlog.DialRefused || e.Reason != string(c.want) || e.CallID != "c1" ||
					e.Caller != c.number || e.String(eventlog.KeyPurpose) != purpose || e.ID == "" {
					t.Fatalf("event %+v", e)
				}
			})
		}
	}
	if got := p.Refused(PurposeCallback, Denied); got != 7 {
		t.Fatalf("Refused(callback, denied) = %d, want 7", got)
	}
}

func TestAllowAndDenyLists(t *testing.T) {
	p, _, _ := newPolicy(t, Config{
		Allow:  []string{"+7", "+78095550000"}, // all of +7, and one 809 number the operator vouches for
		Deny:   []string{"+7914555"},           // a range the operator refuses
		Trunks: []string{"provider"},
	})
	for _, c := range []struct {
		number, trunk string
		want          Reason
	}{
		{"+77011234567", "provider", ""},            // +7 allows Kazakhstan now
		{"+78095550000", "provider", ""},            // longer allow beats the default deny
		{"+78095550001", "provider", Denied},        // the rest of 809 stays denied
		{"+79145551234", "provider", Denied},        // configured deny
		{"+79141234567", "other-trunk", NotInbound}, // not a configured trunk
		{"+79141234567", "provider", ""},
	} {
		err := p.Screen(context.Background(), Request{Purpose: PurposeSurvey, Number: c.number, Trunk: c.trunk})
		ref, _ := AsRefusal(err)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s via %s: %v, want allowed", c.number, c.trunk, err)
		case c.want != "" && (ref == nil || ref.Reason != c.want):
			t.Errorf("%s via %s: %v, want %s", c.number, c.trunk, err, c.want)
		}
	}
}

func TestBadPrefix(t *testing.T) {
	for _, p := range []string{"7914", "+", "+0123", "+79a", "+1234567890123456"} {
		if _, err := New(Config{Deny: []string{p}}, Deps{}); err == nil {
			t.Errorf("deny %q accepted", p)
		}
	}
}

// The per-number limit and the daily cap count survey and callback dials
// together.
func TestLimitsAreSharedAcrossPurposes(t *testing.T) {
	p, clock, s := newPolicy(t, Config{DailyCap: 4, PerNumber: 2, PerNumberWindow: 24 * time.Hour})
	ctx := context.Background()
	req := func(purpose, n string) Request {
		return Request{Purpose: purpose, Number: n, CallID: "c-" + n, Trunk: "provider"}
	}
	steps := []struct {
		purpose, number string
		want            Reason
	}{
		{PurposeSurvey, "+79141234567", ""},
		{PurposeCallback, "+79141234567", ""},
		{PurposeCallback, "+79141234567", PerNumber}, // third dial of the number in 24 h
		{PurposeSurvey, "+79141234567", PerNumber},
		{PurposeSurvey, "+74951111111", ""},
		{PurposeCallback, "+74952222222", ""}, // fourth dial today
		{PurposeCallback, "+74953333333", DailyCap},
		{PurposeSurvey, "+74953333333", DailyCap},
	}
	for i, st := range steps {
		clock.t = clock.t.Add(time.Minute)
		err := p.Permit(ctx, req(st.purpose, st.number))
		ref, _ := AsRefusal(err)
		switch {
		case st.want == "" && err != nil:
			t.Fatalf("step %d: %v, want allowed", i, err)
		case st.want != "" && (ref == nil || ref.Reason != st.want):
			t.Fatalf("step %d: %v, want %s", i, err, st.want)
		case st.want != "" && ref.Reason.Permanent():
			t.Fatalf("step %d: %s is permanent", i, st.want)
		}
	}
	// The cap frees at the next midnight in the zone; the number's limit
	// 24 h after its first dial.
	msk := clock.t.Location()
	if err := p.Permit(ctx, req(PurposeSurvey, "+74953333333")); err == nil {
		t.Fatal("still the same day")
	} else if ref, _ := AsRefusal(err); !ref.RetryAt.Equal(time.Date(2026, 3, 11, 0, 0, 0, 0, msk)) {
		t.Fatalf("daily cap RetryAt = %v", ref.RetryAt)
	}
	clock.t = time.Date(2026, 3, 11, 0, 0, 0, 0, msk)
	if err := p.Permit(ctx, req(PurposeCallback, "+74953333333")); err != nil {
		t.Fatalf("next day: %v", err)
	}
	err := p.Permit(ctx, req(PurposeSurvey, "+79141234567"))
	ref, _ := AsRefusal(err)
	if ref == nil || ref.Reason != PerNumber || !ref.RetryAt.Equal(time.Date(2026, 3, 11, 12, 1, 0, 0, msk)) {
		t.Fatalf("per-number: %v (retry %v)", err, ref)
	}
	clock.t = ref.RetryAt
	if err := p.Permit(ctx, req(PurposeSurvey, "+79141234567")); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	var refused int
	for _, e := range s.ev {
		if e.Type == eventlog.DialRefused {
			refused++
		}
	}
	if refused != 6 {
		t.Fatalf("%d dial.refused events, want 6", refused)
	}
}
