package native

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Binding is a registered contact as a BindingStore keeps it.
type Binding struct {
	User      string
	Contact   string         // the Contact URI, e.g. "sip:a1@192.0.2.7:5062"
	Source    netip.AddrPort // where the REGISTER came from
	Transport string
	CallID    string
	CSeq      uint32
	Expires   time.Time
	// Path is the REGISTER's Path (RFC 3327) values, comma-separated, top
	// first; "" without a proxy.
	Path string
}

// BindingStore keeps agents' registrations across restarts, so that after
// a crash the agents' phones are rung at once instead of after they next
// re-register (up to the registration's expiry). The switch saves a
// user's bindings after every change, off the SIP path, and loads them at
// Start.
type BindingStore interface {
	// SaveBindings replaces user's saved bindings with bs (empty: none).
	SaveBindings(ctx context.Context, user string, bs []Binding) error
	// LoadBindings returns every saved binding.
	LoadBindings(ctx context.Context) ([]Binding, error)
}

// exportBindings converts a user's bindings for the store.
func exportBindings(user string, bs []binding) []Binding {
	out := make([]Binding, len(bs))
	for i, b := range bs {
		out[i] = Binding{User: user, Contact: b.Contact.String(), Source: b.Source, Transport: b.Transport,
			CallID: b.CallID, CSeq: b.CSeq, Expires: b.Expires, Path: strings.Join(b.Path, ", ")}
	}
	return out
}

// restore adds saved bindings that have not expired; a saved contact that
// does not parse is skipped and reported.
func (r *registrar) restore(bs []Binding) (int, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	var bad error
	for _, b := range bs {
		if !now.Before(b.Expires) {
			continue
		}
		var u sip.Uri
		if err := sip.ParseUri(b.Contact, &u); err != nil {
			bad = fmt.Errorf("native: saved binding of %q: contact %q: %w", b.User, b.Contact, err)
			continue
		}
		key := contactKey(u)
		dup := false
		for _, cur := range r.bindings[b.User] {
			if contactKey(cur.Contact) == key {
				dup = true // registered again since: the live one wins
			}
		}
		if dup {
			continue
		}
		r.bindings[b.User] = append(r.bindings[b.User], binding{Contact: u, Source: b.Source, Transport: b.Transport,
			CallID: b.CallID, CSeq: b.CSeq, Expires: b.Expires, Path: splitPath(b.Path)})
		n++
	}
	return n, bad
}

// persister saves users' bindings after they change, coalescing changes
// that come faster than the store writes. A failed save is retried at the
// next change or after retryEvery, and logged once until it works again.
type persister struct {
	store BindingStore
	reg   *registrar
	log   *slog.Logger

	mu    sync.Mutex
	dirty map[string]bool
	wake  chan struct{}
}

const persistRetryEvery = 5 * time.Second

func newPersister(store BindingStore, reg *registrar, log *slog.Logger) *persister {
	return &persister{store: store, reg: reg, log: log, dirty: map[string]bool{}, wake: make(chan struct{}, 1)}
}

// mark records that user's bindings changed.
func (p *persister) mark(user string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.dirty[user] = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run saves dirty users until ctx ends, then once more (a clean stop
// keeps the last registrations).
func (p *persister) run(ctx context.Context) {
	t := time.NewTicker(persistRetryEvery)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			p.flush(sctx, &failing)
			cancel()
			return
		case <-p.wake:
		case <-t.C:
		}
		p.flush(ctx, &failing)
	}
}

func (p *persister) flush(ctx context.Context, failing *bool) {
	p.mu.Lock()
	users := make([]string, 0, len(p.dirty))
	for u := range p.dirty {
		users = append(users, u)
	}
	clear(p.dirty)
	p.mu.Unlock()
	for i, u := range users {
		err := p.store.SaveBindings(ctx, u, exportBindings(u, p.reg.contacts(u)))
		if err == nil {
			if *failing {
				p.log.Info("saving registrations works again")
				*failing = false
			}
			continue
		}
		p.mu.Lock()
		for _, v := range users[i:] {
			p.dirty[v] = true
		}
		p.mu.Unlock()
		if !*failing && ctx.Err() == nil {
			p.log.Warn("saving registrations failed (retrying; a crash now loses the newest ones)", "error", err)
			*failing = true
		}
		return
	}
}

// splitPath reverses exportBindings' join of a Path.
func splitPath(p string) []string {
	var out []string
	for _, v := range strings.Split(p, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
