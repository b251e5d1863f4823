package simulate

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// phase is where a simulated caller is.
type phase int

const (
	inIVR   phase = iota // dialled, going through the menu
	waiting              // in a queue, waiting for an agent
	talking              // with an agent
	gone                 // hung up or was hung up
)

// callerState is one caller's call as the simulated people know it: the
// caller waits, an agent picks up (answered), may hand it to second line
// (escalating), and the caller's patience may run out (abandon). It is
// the only thing the simulated callers and agents share, standing for
// what a caller hears.
type callerState struct {
	mu        sync.Mutex
	phase     phase
	waitFrom  time.Time
	escalated bool
	changed   chan struct{} // poked (non-blocking) when an agent changes the phase
}

func (st *callerState) poke() {
	select {
	case st.changed <- struct{}{}:
	default:
	}
}

// person is a customer by phone number.
type person struct {
	number   string
	inCall   *callerState // nil when not calling
	resolved bool         // the last disposition said resolved
	known    bool         // a disposition was set for the last call
}

// people is the directory of customers: who is calling, who may call
// again, what their last call's disposition was (a customer answers the
// survey's "solved?" question from it).
type people struct {
	mu       sync.Mutex
	byKey    map[string]*person
	past     []*person
	inSurvey int
}

func newPeople() *people { return &people{byKey: map[string]*person{}} }

// numberKey is the national significant number: the last 10 digits, so
// "+79161234567", "79161234567" and "89161234567" are one customer.
func numberKey(n string) string {
	var b strings.Builder
	for _, r := range n {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	d := b.String()
	if len(d) > 10 {
		d = d[len(d)-10:]
	}
	return d
}

// newCaller returns a customer starting a call: one who called before
// (repeat: one not calling now, if one is found in a few tries) or a new
// mobile number. intn draws a random int in [0, n).
func (p *people) newCaller(repeat bool, intn func(n int) int) (*person, *callerState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := &callerState{changed: make(chan struct{}, 1)}
	if repeat && len(p.past) > 0 {
		for try := 0; try < 5; try++ {
			who := p.past[intn(len(p.past))]
			if who.inCall == nil {
				who.inCall = st
				return who, st
			}
		}
	}
	for {
		// +7 9xx: Russian mobile numbers, unique for the run.
		n := fmt.Sprintf("+79%09d", intn(1_000_000_000))
		if _, taken := p.byKey[numberKey(n)]; taken {
			continue
		}
		who := &person{number: n, inCall: st}
		p.byKey[numberKey(n)] = who
		p.past = append(p.past, who)
		return who, st
	}
}

// hungUp marks a customer's call as over.
func (p *people) hungUp(who *person) {
	p.mu.Lock()
	who.inCall = nil
	p.mu.Unlock()
}

// calling returns the call state of the customer with this number, if the
// customer is calling now.
func (p *people) calling(number string) *callerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	if who := p.byKey[numberKey(number)]; who != nil {
		return who.inCall
	}
	return nil
}

// setResolved records the last disposition of a customer's call.
func (p *people) setResolved(number string, resolved bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if who := p.byKey[numberKey(number)]; who != nil {
		who.resolved, who.known = resolved, true
	}
}

// lastResolved tells whether the customer's last call was resolved, and
// whether that is known.
func (p *people) lastResolved(number string) (resolved, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if who := p.byKey[numberKey(number)]; who != nil {
		return who.resolved, who.known
	}
	return false, false
}

func (p *people) surveyStarted() {
	p.mu.Lock()
	p.inSurvey++
	p.mu.Unlock()
}

func (p *people) surveyEnded() {
	p.mu.Lock()
	p.inSurvey--
	p.mu.Unlock()
}

func (p *people) surveysActive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inSurvey
}
