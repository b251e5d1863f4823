package queue

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

// benchWorld is a loaded Engine: every agent on a call and many callers
// waiting, so that each freed agent makes a real cross-queue decision.
type benchWorld struct {
	e          *Engine
	clk        *fakeClock
	rng        *rand.Rand
	agents     []string
	calls      map[string]string // agent → connected call
	next       int
	events     int
	bytesPerWC float64
}

func newBenchWorld(b *testing.B, nAgents, nQueues, nSkills, nWaiting int) *benchWorld {
	b.Helper()
	w := &benchWorld{clk: &fakeClock{t: t0}, rng: rand.New(rand.NewPCG(1, 2)), calls: map[string]string{}}
	var cfg Config
	strategies := []Strategy{LongestIdle, RoundRobin, SkillLevel, LongestIdle}
	for i := 0; i < nQueues; i++ {
		cfg.Queues = append(cfg.Queues, QueueConfig{Name: fmt.Sprintf("q%d", i), Skill: fmt.Sprintf("s%d", i%nSkills),
			Strategy: strategies[i%len(strategies)], Priority: i % 3, ServiceLevel: time.Duration(10+i%5*10) * time.Second,
			AnnounceInterval: 45 * time.Second, MaxWait: time.Hour})
	}
	for i := 0; i < nAgents; i++ {
		a := AgentConfig{ID: fmt.Sprintf("a%d", i), Skills: map[string]int{}}
		for len(a.Skills) < 3 {
			a.Skills[fmt.Sprintf("s%d", w.rng.IntN(nSkills))] = 1 + w.rng.IntN(5)
		}
		cfg.Agents = append(cfg.Agents, a)
		w.agents = append(w.agents, a.ID)
	}
	cfg.EventIDPrefix = "bench"
	e, err := New(cfg, w.clk, eventlog.PublisherFunc(func(eventlog.Event) { w.events++ }))
	if err != nil {
		b.Fatal(err)
	}
	w.e = e
	for _, id := range w.agents {
		if _, err := e.Login(id); err != nil {
			b.Fatal(err)
		}
	}
	// Occupy every agent.
	for len(w.calls) < nAgents {
		acts := w.enqueue(b)
		for _, a := range acts {
			if r, ok := a.(RingAgent); ok {
				w.answer(b, r)
			}
		}
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < nWaiting; i++ {
		w.clk.t = w.clk.t.Add(time.Millisecond)
		w.enqueue(b)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	w.bytesPerWC = float64(m1.HeapAlloc-m0.HeapAlloc) / float64(nWaiting)
	return w
}

func (w *benchWorld) enqueue(b *testing.B) []Action {
	w.next++
	acts, err := w.e.Enqueue(NewCall{ID: "c" + strconv.Itoa(w.next), Caller: "+79000000000", Queue: w.e.queueList[w.rng.IntN(len(w.e.queueList))].cfg.Name,
		Priority: w.rng.IntN(2)})
	if err != nil {
		b.Fatal(err)
	}
	return acts
}

func (w *benchWorld) answer(b *testing.B, r RingAgent) {
	if _, err := w.e.RingAnswered(r.CallID, r.Agent); err != nil {
		b.Fatal(err)
	}
	w.calls[r.Agent] = r.CallID
}

func percentile(d []time.Duration, p float64) float64 {
	slices.Sort(d)
	return float64(d[int(float64(len(d)-1)*p)].Nanoseconds())
}

// BenchmarkRouting: 10,000 agents (3 skills each), 200 queues, 50 skills,
// 100,000 waiting callers. Each iteration an agent hangs up; the timed part
// is the Engine's decision (Hangup → the agent's next RingAgent). Then the
// offer is answered and a new caller joins (timed separately), keeping the
// load constant.
func BenchmarkRouting(b *testing.B) {
	w := newBenchWorld(b, 10000, 200, 50, 100000)
	decide := make([]time.Duration, 0, b.N)
	join := make([]time.Duration, 0, b.N)
	w.events = 0
	inputs := 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w.clk.t = w.clk.t.Add(time.Millisecond)
		id := w.agents[i%len(w.agents)]
		t := time.Now()
		acts, err := w.e.Hangup(w.calls[id], ByCaller)
		decide = append(decide, time.Since(t))
		if err != nil {
			b.Fatal(err)
		}
		r, ok := find[RingAgent](acts)
		if !ok {
			b.Fatalf("agent %s got no call", id)
		}
		w.answer(b, r)
		t = time.Now()
		w.enqueue(b)
		join = append(join, time.Since(t))
		inputs += 3
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(percentile(decide, 0.50), "decide-p50-ns")
	b.ReportMetric(percentile(decide, 0.99), "decide-p99-ns")
	b.ReportMetric(percentile(join, 0.50), "join-p50-ns")
	b.ReportMetric(percentile(join, 0.99), "join-p99-ns")
	b.ReportMetric(w.bytesPerWC, "B/waiting-call")
	b.ReportMetric(float64(w.events)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(inputs)/elapsed.Seconds(), "inputs/s")
}

// BenchmarkTransitions: a small centre (100 agents, 10 queues) running whole
// call lives (join, offer, answer, hang-up); reports the Engine's state
// transitions (published events) per second.
func BenchmarkTransitions(b *testing.B) {
	w := newBenchWorld(b, 100, 10, 5, 1000)
	w.events = 0
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w.clk.t = w.clk.t.Add(time.Millisecond)
		id := w.agents[i%len(w.agents)]
		acts, err := w.e.Hangup(w.calls[id], ByCaller)
		if err != nil {
			b.Fatal(err)
		}
		if r, ok := find[RingAgent](acts); ok {
			w.answer(b, r)
		}
		w.enqueue(b)
	}
	b.ReportMetric(float64(w.events)/time.Since(start).Seconds(), "transitions/s")
}
