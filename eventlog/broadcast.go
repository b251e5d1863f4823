package eventlog

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Broadcaster is the live stream: a consumer of the Bus that fans events out
// to live subscribers (the Server-Sent Events stream). Publish never blocks: a subscriber that falls behind by
// more than its buffer is dropped (its channel closed) and reconnects
// with Last-Event-ID. A bounded history serves those reconnections.
type Broadcaster struct {
	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	hist    []Event // ring buffer
	histPos int
	histN   int
	closed  bool
}

// Subscription is one subscriber of a Broadcaster.
type Subscription struct {
	// C delivers events in publication order; it is closed when the
	// subscriber fell behind, unsubscribed or the Broadcaster closed.
	C      <-chan Event
	c      chan Event
	filter func(Event) (Event, bool)
}

// NewBroadcaster keeps history events for reconnecting subscribers (0
// means 1024).
func NewBroadcaster(history int) *Broadcaster {
	if history <= 0 {
		history = 1024
	}
	return &Broadcaster{subs: map[*Subscription]struct{}{}, hist: make([]Event, history)}
}

// Publish implements Publisher.
func (b *Broadcaster) Publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hist[b.histPos] = ev
	b.histPos = (b.histPos + 1) % len(b.hist)
	if b.histN < len(b.hist) {
		b.histN++
	}
	for s := range b.subs {
		e, ok := s.pass(ev)
		if !ok {
			continue
		}
		select {
		case s.c <- e:
		default:
			delete(b.subs, s)
			close(s.c)
		}
	}
}

// pass applies the subscription's filter.
func (s *Subscription) pass(ev Event) (Event, bool) {
	if s.filter == nil {
		return ev, true
	}
	return s.filter(ev)
}

// Subscribe returns a subscription with room for buffer events (0 means
// 256). Events published after lastID (an event ID; "" for none) that are
// still in the history are delivered first.
func (b *Broadcaster) Subscribe(buffer int, lastID string) *Subscription {
	return b.SubscribeFilter(buffer, lastID, nil)
}

// SubscribeFilter is Subscribe for the events filter passes (and as it
// returns them: it may redact); nil passes all. Publish runs the filter,
// under the Broadcaster's lock, so a subscriber is woken, and its buffer
// filled, only by the events it will see: with hundreds of pages each
// seeing a few of the events, an event costs one filter call per page
// rather than a wake-up of every page's goroutine. The filter must be
// quick and must not call the Broadcaster.
func (b *Broadcaster) SubscribeFilter(buffer int, lastID string, filter func(Event) (Event, bool)) *Subscription {
	if buffer <= 0 {
		buffer = 256
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := &Subscription{filter: filter}
	var replay []Event
	if lastID != "" {
		for i := 0; i < b.histN; i++ {
			ev := b.hist[(b.histPos-b.histN+i+len(b.hist))%len(b.hist)]
			if ev.ID <= lastID {
				continue
			}
			if ev, ok := s.pass(ev); ok {
				replay = append(replay, ev)
			}
		}
	}
	c := make(chan Event, buffer+len(replay))
	for _, ev := range replay {
		c <- ev
	}
	s.C, s.c = c, c
	if b.closed {
		close(c)
		return s
	}
	b.subs[s] = struct{}{}
	return s
}

// Unsubscribe ends s; it is idempotent.
func (b *Broadcaster) Unsubscribe(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.c)
	}
}

// Close ends every subscription.
func (b *Broadcaster) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.c)
	}
}

// ServeHTTP streams events as Server-Sent Events: one "event: TYPE",
// "id: ID" and "data: JSON" block per event, and a comment every 15 s to
// keep proxies from closing the connection. Query parameter type (repeat
// it) filters by event type. A client that falls behind is disconnected;
// it reconnects with Last-Event-ID and gets what it missed from the
// history.
func (b *Broadcaster) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	types := map[Type]bool{}
	for _, t := range req.URL.Query()["type"] {
		types[Type(t)] = true
	}
	b.Stream(w, req, StreamOptions{Comment: "hotline events", Named: true, Filter: func(ev Event) (Event, bool) {
		return ev, len(types) == 0 || types[ev.Type]
	}})
}

// StreamOptions shape one Server-Sent Events stream.
type StreamOptions struct {
	Comment string        // the first line's comment
	Retry   time.Duration // the client's reconnection delay (0: the browser's default)
	Named   bool          // an "event: TYPE" line per event (else clients read them as "message")
	// Buffer is how many events the client may fall behind by before it is
	// dropped (and reconnects with Last-Event-ID); 0 means 256. It counts
	// the events Filter passes only; each costs the size of an Event.
	Buffer int
	// Filter decides whether a client sees an event, and may redact it
	// first; nil shows every event as it is. It runs in Publish, under the
	// Broadcaster's lock (SubscribeFilter): quick, and never calling the
	// Broadcaster.
	Filter func(Event) (Event, bool)
}

// Stream serves one SSE client: it resumes after the request's
// Last-Event-ID (header, or query parameter last_event_id) from the
// history, sends a keep-alive comment every 15 s, and returns when the
// client goes, falls behind, or the Broadcaster closes.
func (b *Broadcaster) Stream(w http.ResponseWriter, req *http.Request, opt StreamOptions) {
	rc := http.NewResponseController(w)
	last := req.Header.Get("Last-Event-ID")
	if last == "" {
		last = req.URL.Query().Get("last_event_id")
	}
	sub := b.SubscribeFilter(opt.Buffer, last, opt.Filter)
	defer b.Unsubscribe(sub)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	head := ": " + opt.Comment + "\n\n"
	if opt.Retry > 0 {
		head = fmt.Sprintf("retry: %d\n%s", opt.Retry.Milliseconds(), head)
	}
	if _, err := fmt.Fprint(w, head); err != nil {
		return
	}
	_ = rc.Flush()
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-req.Context().Done():
			return
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			if opt.Named {
				_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, data)
			} else {
				_, err = fmt.Fprintf(w, "id: %s\ndata: %s\n\n", ev.ID, data)
			}
			if err != nil {
				return
			}
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
