package native

import (
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// binding is one registered contact of an agent.
type binding struct {
	Contact   sip.Uri
	Source    netip.AddrPort // where the REGISTER came from (used when the Contact is not routable)
	Transport string
	CallID    string
	CSeq      uint32
	Expires   time.Time
	// Path is the REGISTER's Path header values (RFC 3327), top first: a
	// proxy in front (deploy/kamailio) asked to stay on the way to the
	// phone; the INVITE to the contact is routed through it.
	Path []string
	// Misses counts INVITEs in a row this contact never responded to at
	// all (see missed); a REGISTER refresh starts it again.
	Misses int
}

// registrar keeps agents' contact bindings (RFC 3261 §10.3).
type registrar struct {
	mu        sync.Mutex
	bindings  map[string][]binding // by user
	minExpiry time.Duration
	maxExpiry time.Duration
	now       func() time.Time
}

func newRegistrar(minExp, maxExp time.Duration, now func() time.Time) *registrar {
	return &registrar{bindings: map[string][]binding{}, minExpiry: minExp, maxExpiry: maxExp, now: now}
}

// registerResult tells the REGISTER handler what to answer.
type registerResult struct {
	status   int
	minExp   time.Duration // for 423
	contacts []binding     // current bindings for the 200
}

// register applies a REGISTER from an authenticated user. fresh says the
// request's authentication was the first answer to its challenge: a
// REGISTER that adds a contact, or moves one to another source address or
// transport, must be fresh, or it gets 401 (answered with a new stale=true
// challenge), so a replayed nonce can refresh nothing but what it
// registered and never take an agent's calls.
func (r *registrar) register(user string, req *sip.Request, src netip.AddrPort, fresh bool) registerResult {
	now := r.now()
	defaultExp := time.Hour
	if h := req.GetHeader("Expires"); h != nil {
		if v, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil {
			defaultExp = time.Duration(v) * time.Second
		}
	}
	callID := ""
	if c := req.CallID(); c != nil {
		callID = string(*c)
	}
	var cseq uint32
	if c := req.CSeq(); c != nil {
		cseq = c.SeqNo
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.liveLocked(user, now)

	contacts := req.GetHeaders("Contact")
	if len(contacts) == 0 { // a query: answer with the current bindings
		return registerResult{status: 200, contacts: cur}
	}
	// "Contact: *" with Expires: 0 removes every binding.
	if len(contacts) == 1 && strings.TrimSpace(contacts[0].Value()) == "*" {
		if defaultExp != 0 {
			return registerResult{status: 400}
		}
		delete(r.bindings, user)
		return registerResult{status: 200}
	}
	parsed := make([]*sip.ContactHeader, 0, len(contacts))
	for _, h := range contacts {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			var p sip.ContactHeader
			if _, err := sip.ParseAddressValue(h.Value(), &p.Address, &p.Params); err != nil {
				return registerResult{status: 400}
			}
			ch = &p
		}
		parsed = append(parsed, ch)
	}
	if !fresh && changesBindings(cur, parsed, defaultExp, src, req.Transport()) {
		return registerResult{status: 401}
	}
	for _, ch := range parsed {
		exp := defaultExp
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				exp = time.Duration(n) * time.Second
			}
		}
		key := contactKey(ch.Address)
		idx := -1
		for i, b := range cur {
			if contactKey(b.Contact) == key {
				idx = i
			}
		}
		if idx >= 0 && cur[idx].CallID == callID && cseq <= cur[idx].CSeq {
			continue // an out-of-order or repeated REGISTER (RFC 3261 §10.3 step 7)
		}
		if exp == 0 {
			if idx >= 0 {
				cur = append(cur[:idx], cur[idx+1:]...)
			}
			continue
		}
		if exp < r.minExpiry {
			return registerResult{status: 423, minExp: r.minExpiry}
		}
		if exp > r.maxExpiry {
			exp = r.maxExpiry
		}
		b := binding{Contact: *ch.Address.Clone(), Source: src, Transport: req.Transport(), CallID: callID, CSeq: cseq, Expires: now.Add(exp),
			Path: pathOf(req)}
		if idx >= 0 {
			cur[idx] = b
		} else {
			cur = append(cur, b)
		}
	}
	if len(cur) == 0 {
		delete(r.bindings, user)
	} else {
		r.bindings[user] = cur
	}
	return registerResult{status: 200, contacts: append([]binding(nil), cur...)}
}

// changesBindings reports whether contacts would add a binding or move
// one to another source or transport (removals and refreshes do not).
func changesBindings(cur []binding, contacts []*sip.ContactHeader, defaultExp time.Duration, src netip.AddrPort, transport string) bool {
	for _, ch := range contacts {
		exp := defaultExp
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil {
				exp = time.Duration(n) * time.Second
			}
		}
		if exp == 0 {
			continue
		}
		key := contactKey(ch.Address)
		found := false
		for _, b := range cur {
			if contactKey(b.Contact) == key {
				found = true
				if b.Source != src || !strings.EqualFold(b.Transport, transport) {
					return true
				}
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// boundAt reports whether ap is the source or the contact address of a
// live binding: a registered phone, whose traffic a ban never drops.
func (r *registrar) boundAt(ap netip.AddrPort) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, bs := range r.bindings {
		for _, b := range bs {
			if now.Before(b.Expires) && (b.Source == ap || contactAddr(b.Contact) == ap) {
				return true
			}
		}
	}
	return false
}

// userAt reports whether user has a live binding registered from addr.
func (r *registrar) userAt(user string, addr netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, b := range r.bindings[user] {
		if now.Before(b.Expires) && b.Source.Addr() == addr {
			return true
		}
	}
	return false
}

// contactAddr is a contact URI's address and port (5060 when none), or
// the zero AddrPort for a host name.
func contactAddr(u sip.Uri) netip.AddrPort {
	a, err := netip.ParseAddr(u.Host)
	if err != nil {
		return netip.AddrPort{}
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port))
}

func contactKey(u sip.Uri) string {
	return strings.ToLower(u.User + "@" + u.Host + ":" + strconv.Itoa(u.Port))
}

// liveLocked drops expired bindings of user and returns the rest.
func (r *registrar) liveLocked(user string, now time.Time) []binding {
	bs := r.bindings[user]
	keep := bs[:0]
	for _, b := range bs {
		if now.Before(b.Expires) {
			keep = append(keep, b)
		}
	}
	if len(keep) == 0 {
		delete(r.bindings, user)
		return nil
	}
	r.bindings[user] = keep
	return keep
}

// Contacts returns a user's live bindings.
func (r *registrar) contacts(user string) []binding {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]binding(nil), r.liveLocked(user, r.now())...)
}

// knownSource reports whether addr is the source of a live registration.
func (r *registrar) knownSource(addr netip.Addr) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, bs := range r.bindings {
		for _, b := range bs {
			if b.Source.Addr() == addr && now.Before(b.Expires) {
				return true
			}
		}
	}
	return false
}

// users lists the users with live bindings, sorted.
func (r *registrar) users() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []string
	for u := range r.bindings {
		if len(r.liveLocked(u, now)) > 0 {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// missed records that a contact of user sent no response at all to an
// INVITE (not even 100 Trying) before hotline gave up on it, and drops the
// binding after limit such misses in a row: a phone that went away without
// unregistering stops being rung. It reports whether the binding was
// dropped. reached starts the count again.
func (r *registrar) missed(user string, contact sip.Uri, limit int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := contactKey(contact)
	bs := r.liveLocked(user, r.now())
	for i := range bs {
		if contactKey(bs[i].Contact) != key {
			continue
		}
		bs[i].Misses++
		if limit <= 0 || bs[i].Misses < limit {
			return false
		}
		bs = append(bs[:i], bs[i+1:]...)
		if len(bs) == 0 {
			delete(r.bindings, user)
		} else {
			r.bindings[user] = bs
		}
		return true
	}
	return false
}

// reached records that a contact of user responded to an INVITE.
func (r *registrar) reached(user string, contact sip.Uri) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := contactKey(contact)
	for i, b := range r.bindings[user] {
		if contactKey(b.Contact) == key {
			r.bindings[user][i].Misses = 0
		}
	}
}

// pathOf returns a REGISTER's Path header values, top first.
func pathOf(req *sip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Path") {
		for _, v := range strings.Split(h.Value(), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}
