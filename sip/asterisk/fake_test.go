package asterisk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/stdbus"

	"github.com/hotline-cc/hotline/sip"
)

// The fakes replace the ari library's client interfaces: each embeds the
// interface (a call to a method the switch should not use panics) and
// records the calls it implements.

type call struct {
	op   string
	id   string
	args []string
}

type recorder struct {
	mu    sync.Mutex
	calls []call
	wake  chan struct{}
}

func (r *recorder) add(op, id string, args ...string) {
	r.mu.Lock()
	r.calls = append(r.calls, call{op, id, args})
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// waitCall waits for a call of op on id and returns it.
func (r *recorder) waitCall(t *testing.T, op, id string) call {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		for _, c := range r.calls {
			if c.op == op && (id == "" || c.id == id) {
				r.mu.Unlock()
				return c
			}
		}
		r.mu.Unlock()
		select {
		case <-r.wake:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("no %s %s; calls: %v", op, id, r.calls)
		}
	}
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.calls = nil
	r.mu.Unlock()
}

func (r *recorder) has(op, id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.calls {
		if c.op == op && (id == "" || c.id == id) {
			return true
		}
	}
	return false
}

type fakeClient struct {
	ari.Client
	rec     *recorder
	bus     ari.Bus
	app     ari.ApplicationData
	bridges map[string][]string
	chans   map[string]*ari.ChannelData
	down    atomic.Bool       // Info fails: Asterisk is unreachable
	eps     map[string]string // PJSIP resource → state
	epReads atomic.Int32      // EndpointStates calls
	startup time.Time
	mu      sync.Mutex
}

func newFakeClient(rec *recorder) *fakeClient {
	return &fakeClient{rec: rec, bus: stdbus.New(), bridges: map[string][]string{}, chans: map[string]*ari.ChannelData{}}
}

func (c *fakeClient) Bus() ari.Bus                 { return c.bus }
func (c *fakeClient) Close()                       { c.rec.add("close", ""); c.bus.Close() }
func (c *fakeClient) Channel() ari.Channel         { return &fakeChannel{c: c} }
func (c *fakeClient) Bridge() ari.Bridge           { return &fakeBridge{c: c} }
func (c *fakeClient) Playback() ari.Playback       { return &fakePlayback{c: c} }
func (c *fakeClient) Asterisk() ari.Asterisk       { return &fakeAsterisk{c: c} }
func (c *fakeClient) Application() ari.Application { return &fakeApplication{c: c} }
func (c *fakeClient) send(e ari.Event)             { c.bus.Send(e) }
func (c *fakeClient) ApplicationName() string      { return "hotline" }

type fakeChannel struct {
	ari.Channel
	c *fakeClient
}

func (f *fakeChannel) Answer(k *ari.Key) error { f.c.rec.add("answer", k.ID); return nil }
func (f *fakeChannel) Hangup(k *ari.Key, reason string) error {
	f.c.rec.add("hangup", k.ID, reason)
	return nil
}
func (f *fakeChannel) MOH(k *ari.Key, class string) error {
	f.c.rec.add("moh", k.ID, class)
	return nil
}
func (f *fakeChannel) StopMOH(k *ari.Key) error { f.c.rec.add("stopmoh", k.ID); return nil }
func (f *fakeChannel) Play(k *ari.Key, id string, uris ...string) (*ari.PlaybackHandle, error) {
	f.c.rec.add("play", k.ID, append([]string{id}, uris...)...)
	return nil, nil
}
func (f *fakeChannel) Originate(_ *ari.Key, req ari.OriginateRequest) (*ari.ChannelHandle, error) {
	f.c.rec.add("originate", req.ChannelID, req.Endpoint, req.App, req.AppArgs, fmt.Sprint(req.Timeout), req.CallerID)
	if strings.Contains(req.Endpoint, "missing") {
		return nil, errors.New("400 Bad Request: endpoint not found")
	}
	return nil, nil
}
func (f *fakeChannel) Data(k *ari.Key) (*ari.ChannelData, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if d, ok := f.c.chans[k.ID]; ok {
		return d, nil
	}
	return nil, errors.New("404 channel not found")
}

type fakeBridge struct {
	ari.Bridge
	c *fakeClient
}

func (f *fakeBridge) Create(k *ari.Key, typ, name string) (*ari.BridgeHandle, error) {
	f.c.rec.add("bridge-create", k.ID, typ)
	return nil, nil
}
func (f *fakeBridge) AddChannel(k *ari.Key, ch string) error {
	f.c.rec.add("bridge-add", k.ID, ch)
	return nil
}
func (f *fakeBridge) RemoveChannel(k *ari.Key, ch string) error {
	f.c.rec.add("bridge-remove", k.ID, ch)
	return nil
}
func (f *fakeBridge) Delete(k *ari.Key) error { f.c.rec.add("bridge-delete", k.ID); return nil }
func (f *fakeBridge) Data(k *ari.Key) (*ari.BridgeData, error) {
	return &ari.BridgeData{ID: k.ID, ChannelIDs: f.c.bridges[k.ID]}, nil
}

type fakePlayback struct {
	ari.Playback
	c *fakeClient
}

func (f *fakePlayback) Stop(k *ari.Key) error { f.c.rec.add("playback-stop", k.ID); return nil }

type fakeAsterisk struct {
	ari.Asterisk
	c *fakeClient
}

func (f *fakeAsterisk) Info(*ari.Key) (*ari.AsteriskInfo, error) {
	if f.c.down.Load() {
		return nil, errors.New("dial tcp: connection refused")
	}
	return &ari.AsteriskInfo{StatusInfo: ari.StatusInfo{StartupTime: ari.DateTime(f.c.startup)}}, nil
}

type fakeApplication struct {
	ari.Application
	c *fakeClient
}

func (f *fakeApplication) Data(*ari.Key) (*ari.ApplicationData, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	d := f.c.app
	return &d, nil
}

// fixture is a started Switch on fake clients.
type fixture struct {
	sw      *Switch
	rec     *recorder
	clients chan *fakeClient // handed out by Connect, in order
	cl      *fakeClient      // the first one
}

func start(t *testing.T, mutate func(*Config), prepare func(*fakeClient)) *fixture {
	t.Helper()
	rec := &recorder{wake: make(chan struct{}, 1)}
	f := &fixture{rec: rec, clients: make(chan *fakeClient, 4)}
	f.cl = newFakeClient(rec)
	if prepare != nil {
		prepare(f.cl)
	}
	f.clients <- f.cl
	cfg := Config{
		Application:  "hotline",
		Trunks:       map[string]string{"provider": "PJSIP/%s@provider"},
		DefaultTrunk: "provider", CallerID: "88001234567",
		MOHClasses: []string{"default"},
		Heartbeat:  time.Hour, BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		TransferGrace: 200 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		EndpointStates: func(_ context.Context, _ Config, _, resource string) (map[string]string, error) {
			f.cl.mu.Lock()
			defer f.cl.mu.Unlock()
			f.cl.epReads.Add(1)
			out := map[string]string{}
			for r, st := range f.cl.eps {
				if resource == "" || r == resource {
					out["PJSIP/"+r] = st
				}
			}
			return out, nil
		},
		Connect: func(ctx context.Context, cfg Config) (ari.Client, error) {
			select {
			case c := <-f.clients:
				rec.add("connect", "")
				return c, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
				return nil, errors.New("fake: refused")
			}
		},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); sw.Close() })
	f.sw = sw
	return f
}

func evData(typ string) ari.EventData { return ari.EventData{Type: typ, Application: "hotline"} }

func stasisStart(id, caller, exten, state string, args ...string) *ari.StasisStart {
	return &ari.StasisStart{EventData: evData("StasisStart"), Args: args, Channel: ari.ChannelData{
		ID: id, State: state, Caller: &ari.CallerID{Number: caller}, Dialplan: &ari.DialplanCEP{Exten: exten},
	}}
}

func destroyed(id string, cause int) *ari.ChannelDestroyed {
	return &ari.ChannelDestroyed{EventData: evData("ChannelDestroyed"), Cause: cause, Channel: ari.ChannelData{ID: id}}
}

func dtmf(id string, d string) *ari.ChannelDtmfReceived {
	return &ari.ChannelDtmfReceived{EventData: evData("ChannelDtmfReceived"), Digit: d, Channel: ari.ChannelData{ID: id}}
}

func playbackFinished(id, state string) *ari.PlaybackFinished {
	return &ari.PlaybackFinished{EventData: evData("PlaybackFinished"), Playback: ari.PlaybackData{ID: id, State: state}}
}

// inbound sends a StasisStart and returns the delivered leg.
func (f *fixture) inbound(t *testing.T, id, state string, args ...string) sip.Leg {
	t.Helper()
	f.cl.send(stasisStart(id, "79123456789", "88001234567", state, args...))
	select {
	case l := <-f.sw.Incoming():
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no inbound leg")
	}
	return nil
}

func waitDone(t *testing.T, l sip.Leg) sip.End {
	t.Helper()
	select {
	case <-l.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("leg did not end")
	}
	end, _ := l.Ended()
	return end
}
