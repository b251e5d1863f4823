package eventlog

import (
	"sync"
	"time"
)

// Bus carries every event of a process to its consumers. Publish stamps a
// missing ID (from the Bus's IDs) and time and returns at once; each
// consumer has its own queue and goroutine that delivers to it in
// publication order. So a producer (the ACD under its lock, a call's
// goroutine) never runs a consumer, and a slow consumer delays only itself:
// neither the producer nor the other consumers. Queues are unbounded:
// nothing is dropped.
type Bus struct {
	ids *IDs

	mu     sync.Mutex // orders Publish: IDs and queue order agree
	subs   []*busSub
	closed bool
}

// busSub is one consumer's queue.
type busSub struct {
	p Publisher

	mu        sync.Mutex
	cond      *sync.Cond // queued events, deliveries, close
	queue     []Event
	queued    uint64 // events queued so far
	delivered uint64 // events delivered so far
	closed    bool
	done      chan struct{}
}

// NewBus returns a bus whose events get IDs from ids (nil: NewIDs("")).
// Close it to deliver what is queued and stop its goroutines.
func NewBus(ids *IDs) *Bus {
	if ids == nil {
		ids = NewIDs("")
	}
	return &Bus{ids: ids}
}

// IDs is the bus's ID generator (for producers that stamp their own).
func (b *Bus) IDs() *IDs { return b.ids }

// Subscribe adds a consumer; it receives the events published from now on,
// on a goroutine of its own.
func (b *Bus) Subscribe(p Publisher) {
	s := &busSub{p: p, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, s)
	if b.closed {
		s.closed = true
		close(s.done)
		return
	}
	go s.run()
}

// Publish implements Publisher. After Close the event is delivered before
// Publish returns (producers that outlive the bus lose nothing).
func (b *Bus) Publish(e Event) {
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	b.mu.Lock()
	if e.ID == "" {
		e.ID = b.ids.Next()
	}
	if b.closed {
		subs := b.subs
		b.mu.Unlock()
		for _, s := range subs {
			s.p.Publish(e)
		}
		return
	}
	for _, s := range b.subs {
		s.mu.Lock()
		s.queue = append(s.queue, e)
		s.queued++
		s.cond.Broadcast()
		s.mu.Unlock()
	}
	b.mu.Unlock()
}

// Sync waits until every event published before the call has been
// delivered to every consumer.
func (b *Bus) Sync() {
	b.mu.Lock()
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		for want := s.queued; s.delivered < want && !s.closed; {
			s.cond.Wait()
		}
		s.mu.Unlock()
	}
}

// Close delivers what is queued and stops the consumers' goroutines; later
// events are delivered synchronously. Idempotent.
func (b *Bus) Close() {
	b.mu.Lock()
	b.closed = true
	subs := b.subs
	b.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		s.closed = true
		s.cond.Broadcast()
		s.mu.Unlock()
		<-s.done
	}
}

func (s *busSub) run() {
	defer close(s.done)
	var batch []Event
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.closed {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		batch, s.queue = s.queue, batch[:0]
		s.mu.Unlock()
		for i := range batch {
			s.p.Publish(batch[i])
			batch[i] = Event{}
		}
		s.mu.Lock()
		s.delivered += uint64(len(batch))
		s.cond.Broadcast()
		s.mu.Unlock()
	}
}
