package queue

// Ordered structures behind routing decisions:
//
//   - each queue keeps its waiting calls in a treap (a randomized balanced
//     binary search tree) ordered by callLess, with subtree sizes for
//     positions and a count of unrestricted calls for finding the first call
//     any agent may take, all in O(log n); the nodes are embedded in the call
//     so a waiting call costs no extra allocation;
//   - each queue keeps its available agents in a binary heap ordered by the
//     queue's strategy;
//   - the Engine keeps its timers in one binary heap with lazy cancellation.

// callLess is the order inside a queue: higher priority first, then
// escalated before fresh, then earlier arrival, then earlier entry.
func callLess(a, b *call) bool {
	if a.prio != b.prio {
		return a.prio > b.prio
	}
	if a.class != b.class {
		return a.class > b.class
	}
	if a.orderAt != b.orderAt {
		return a.orderAt < b.orderAt
	}
	return a.seq < b.seq
}

func tsize(c *call) int32 {
	if c == nil {
		return 0
	}
	return c.tsize
}

func tfree(c *call) int32 {
	if c == nil {
		return 0
	}
	return c.tfree
}

func (c *call) fix() {
	c.tsize = 1 + tsize(c.left) + tsize(c.right)
	c.tfree = tfree(c.left) + tfree(c.right)
	if !c.restricted {
		c.tfree++
	}
}

// split divides t into calls ordered before n and after n.
func split(t, n *call) (l, r *call) {
	if t == nil {
		return nil, nil
	}
	if callLess(t, n) {
		t.right, r = split(t.right, n)
		t.fix()
		return t, r
	}
	l, t.left = split(t.left, n)
	t.fix()
	return l, t
}

func merge(l, r *call) *call {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.tprio > r.tprio:
		l.right = merge(l.right, r)
		l.fix()
		return l
	default:
		r.left = merge(l, r.left)
		r.fix()
		return r
	}
}

func treapInsert(t, n *call) *call {
	n.left, n.right = nil, nil
	n.fix()
	if t == nil {
		return n
	}
	if n.tprio > t.tprio {
		n.left, n.right = split(t, n)
		n.fix()
		return n
	}
	if callLess(n, t) {
		t.left = treapInsert(t.left, n)
	} else {
		t.right = treapInsert(t.right, n)
	}
	t.fix()
	return t
}

func treapRemove(t, n *call) *call {
	if t == nil {
		return nil
	}
	if t == n {
		m := merge(t.left, t.right)
		n.left, n.right = nil, nil
		return m
	}
	if callLess(n, t) {
		t.left = treapRemove(t.left, n)
	} else {
		t.right = treapRemove(t.right, n)
	}
	t.fix()
	return t
}

// treapRank returns how many calls of t are ordered before n.
func treapRank(t, n *call) int {
	r := 0
	for t != nil {
		if t == n {
			return r + int(tsize(t.left))
		}
		if callLess(n, t) {
			t = t.left
		} else {
			r += int(tsize(t.left)) + 1
			t = t.right
		}
	}
	return r
}

// treapFirstFree returns the first unrestricted call of t, or nil.
func treapFirstFree(t *call) *call {
	for t != nil && t.tfree > 0 {
		switch {
		case tfree(t.left) > 0:
			t = t.left
		case !t.restricted:
			return t
		default:
			t = t.right
		}
	}
	return nil
}

// treapWalk calls f on every call of t in order until f returns false.
func treapWalk(t *call, f func(*call) bool) bool {
	if t == nil {
		return true
	}
	return treapWalk(t.left, f) && f(t) && treapWalk(t.right, f)
}

// slot is an agent's membership in a queue it serves.
type slot struct {
	a           *agent
	q           *queue
	level       int    // the agent's level in the queue's skill
	lastOffered uint64 // offer sequence of the queue's last offer to the agent
	hidx        int    // index in q.avail, -1 when absent
}

// availHeap holds a queue's available agents, best first.
type availHeap struct {
	s        []*slot
	strategy Strategy
}

func (h *availHeap) less(i, j int) bool {
	x, y := h.s[i], h.s[j]
	switch h.strategy {
	case RoundRobin:
		if x.lastOffered != y.lastOffered {
			return x.lastOffered < y.lastOffered
		}
	case SkillLevel:
		if x.level != y.level {
			return x.level > y.level
		}
	}
	if x.a.idleSince != y.a.idleSince {
		return x.a.idleSince < y.a.idleSince
	}
	return x.a.order < y.a.order
}

func (h *availHeap) swap(i, j int) {
	h.s[i], h.s[j] = h.s[j], h.s[i]
	h.s[i].hidx = i
	h.s[j].hidx = j
}

func (h *availHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *availHeap) down(i int) {
	n := len(h.s)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h.swap(i, j)
		i = j
	}
}

func (h *availHeap) push(s *slot) {
	s.hidx = len(h.s)
	h.s = append(h.s, s)
	h.up(s.hidx)
}

func (h *availHeap) remove(s *slot) {
	i := s.hidx
	if i < 0 {
		return
	}
	n := len(h.s) - 1
	if i != n {
		h.swap(i, n)
	}
	h.s[n] = nil
	h.s = h.s[:n]
	s.hidx = -1
	if i != n {
		h.down(i)
		h.up(i)
	}
}

func (h *availHeap) top() *slot {
	if len(h.s) == 0 {
		return nil
	}
	return h.s[0]
}

// timer kinds.
const (
	tRing = iota
	tMaxWait
	tAnnounce
	tPrefer
	tRetry
	tOffer // the callback offer after CallbackOffer.After
	nCallTimers
	tWrap = nCallTimers // agent timer
)

type timer struct {
	at   int64
	seq  uint64
	kind uint8
	gen  uint32
	c    *call
	a    *agent
}

// live reports whether t has not been cancelled (by bumping a generation).
func (t *timer) live() bool {
	if t.kind == tWrap {
		return t.a.wrapGen == t.gen
	}
	return t.c.gens[t.kind] == t.gen && t.c.state != stEnded
}

type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	j := len(s) - 1
	for j > 0 {
		i := (j - 1) / 2
		if !s.less(j, i) {
			break
		}
		s[i], s[j] = s[j], s[i]
		j = i
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	t := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = timer{}
	s = s[:n]
	*h = s
	s.down(0)
	return t
}

func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && h.less(r, l) {
			j = r
		}
		if !h.less(j, i) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// compact drops cancelled timers and restores the heap order.
func (h *timerHeap) compact() {
	s := (*h)[:0]
	for _, t := range *h {
		if t.live() {
			s = append(s, t)
		}
	}
	for i := len(s); i < len(*h); i++ {
		(*h)[i] = timer{}
	}
	*h = s
	for i := len(s)/2 - 1; i >= 0; i-- {
		s.down(i)
	}
}
