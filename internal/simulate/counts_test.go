package simulate

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestSnapshotFigures(t *testing.T) {
	var c Counts
	c.Add(func(s *Snapshot) {
		s.Placed, s.Queued, s.Answered, s.AnsweredInSL, s.Abandoned = 10, 9, 8, 6, 1
		s.WaitSum = 80 * time.Second
		s.Ratings[5], s.Ratings[1], s.Ratings[4] = 2, 1, 1
		s.ByQueue["first-line"] = 8
	})
	s := c.Snapshot()
	if got := s.RatingsGiven(); got != 4 {
		t.Errorf("RatingsGiven = %d", got)
	}
	// (100+100+0+75)/4
	if v, ok := s.CSI(); !ok || v != 68.75 {
		t.Errorf("CSI = %g, %v", v, ok)
	}
	if d, ok := s.ASA(); !ok || d != 10*time.Second {
		t.Errorf("ASA = %s, %v", d, ok)
	}
	if _, ok := (Snapshot{}).CSI(); ok {
		t.Error("CSI without ratings")
	}
	// The snapshot is a copy.
	s.Ratings[5] = 100
	if c.Snapshot().Ratings[5] != 2 {
		t.Error("Snapshot shares its maps")
	}
	var text bytes.Buffer
	s.WriteText(&text, 20*time.Second)
	for _, want := range []string{"calls placed", "answered within 20s", "75.0 % of answered", "abandoned", "ratings given", "answered from first-line"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Answered != 8 || back.Ratings[1] != 1 {
		t.Fatalf("JSON round trip: %+v, %v", back, err)
	}
}

func TestNumberKey(t *testing.T) {
	for in, want := range map[string]string{
		"+79161234567": "9161234567", "79161234567": "9161234567", "89161234567": "9161234567",
		"sip:+7 (916) 123-45-67": "9161234567", "2000": "2000",
	} {
		if got := numberKey(in); got != want {
			t.Errorf("numberKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPeopleRepeat(t *testing.T) {
	p := newPeople()
	r := rand.New(rand.NewPCG(7, 8))
	a, _ := p.newCaller(false, r.IntN)
	b, _ := p.newCaller(false, r.IntN)
	if a.number == b.number || len(a.number) != 12 || !strings.HasPrefix(a.number, "+79") {
		t.Fatalf("numbers %q %q", a.number, b.number)
	}
	// Both are calling: a repeat call must be a new customer.
	c, _ := p.newCaller(true, r.IntN)
	if c == a || c == b {
		t.Fatal("a customer who is calling now called again")
	}
	p.hungUp(a)
	p.hungUp(c)
	for i := 0; i < 20; i++ {
		d, _ := p.newCaller(true, r.IntN)
		if d != a && d != c {
			t.Fatalf("repeat call %d from %q, want one of the customers not calling", i, d.number)
		}
		p.hungUp(d)
	}
	p.setResolved("8"+a.number[2:], true)
	if res, known := p.lastResolved(a.number); !res || !known {
		t.Error("disposition not found by the national form of the number")
	}
}

// TestCallerStates plays the hand-overs between a caller and agents:
// answered within and beyond SL, escalation and its undo, a caller gone
// before the answer.
func TestCallerStates(t *testing.T) {
	s := &sim{cfg: Config{SL: 20 * time.Second}, counts: &Counts{}, people: newPeople()}
	r := rand.New(rand.NewPCG(9, 10))
	who, st := s.people.newCaller(false, r.IntN)
	st.phase, st.waitFrom = waiting, time.Now().Add(-5*time.Second)

	got, esc := s.agentAnswered(who.number, "first-line")
	if got != st || esc || st.phase != talking {
		t.Fatalf("answered: state %v, escalated %v, phase %v", got, esc, st.phase)
	}
	undo := s.escalating(st)
	if st.phase != waiting || !st.escalated {
		t.Fatal("escalating did not put the caller back to waiting")
	}
	undo()
	if st.phase != talking || st.escalated {
		t.Fatal("undo did not restore the talk")
	}
	s.escalating(st)
	st.waitFrom = time.Now().Add(-30 * time.Second)
	if _, esc := s.agentAnswered(who.number, "second-line"); !esc {
		t.Fatal("second-line answer not seen as an escalation")
	}

	who2, st2 := s.people.newCaller(false, r.IntN)
	st2.phase, st2.waitFrom = waiting, time.Now().Add(-25*time.Second)
	s.agentAnswered(who2.number, "billing")

	who3, st3 := s.people.newCaller(false, r.IntN)
	st3.phase = gone // patience ran out as the agent picked up
	if got, _ := s.agentAnswered(who3.number, "first-line"); got != nil {
		t.Fatal("a caller who is gone was answered")
	}

	c := s.counts.Snapshot()
	if c.Answered != 2 || c.AnsweredInSL != 1 || c.EscalationAnswered != 1 {
		t.Fatalf("answered %d, in SL %d, escalation answered %d; want 2, 1, 1", c.Answered, c.AnsweredInSL, c.EscalationAnswered)
	}
	if c.ByQueue["first-line"] != 2 || c.ByQueue["second-line"] != 1 || c.ByQueue["billing"] != 1 {
		t.Fatalf("by queue %v", c.ByQueue)
	}
}
