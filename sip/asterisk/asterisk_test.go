package asterisk

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	xslog "golang.org/x/exp/slog"

	"github.com/hotline-cc/hotline/sip"
)

func TestInboundLegInfoAndAnswer(t *testing.T) {
	f := start(t, nil, nil)
	l := f.inbound(t, "c1", "Ring", "trunk=provider")
	info := l.Info()
	if info.ID != "c1" || info.Direction != sip.Inbound || info.From != "79123456789" || info.To != "88001234567" || info.Trunk != "provider" {
		t.Fatalf("Info() = %+v", info)
	}
	if _, err := l.Play(context.Background(), sip.PlayOptions{Prompts: []sip.Prompt{{Name: "x"}}}); !errors.Is(err, sip.ErrNotAnswered) {
		t.Fatalf("Play before Answer = %v, want ErrNotAnswered", err)
	}
	if err := l.Answer(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.rec.waitCall(t, "answer", "c1")
	if err := l.Answer(context.Background()); err != nil {
		t.Fatalf("second Answer: %v", err)
	}
}

func TestDigits(t *testing.T) {
	f := start(t, nil, nil)
	l := f.inbound(t, "c1", "Up")
	for _, d := range []string{"1", "2", "#", "9"} {
		f.cl.send(dtmf("c1", d))
	}
	got, err := l.ReadDigits(context.Background(), sip.DigitOptions{Max: 5, Terminator: '#', FirstTimeout: 5 * time.Second})
	if err != nil || got != "12" {
		t.Fatalf("ReadDigits = %q, %v; want 12", got, err)
	}
	got, err = l.ReadDigits(context.Background(), sip.DigitOptions{Max: 3, InterTimeout: 50 * time.Millisecond})
	if err != nil || got != "9" {
		t.Fatalf("ReadDigits after the terminator = %q, %v; want the buffered 9", got, err)
	}
	var events []rune
	for len(events) < 4 {
		select {
		case e := <-l.Events():
			if d, ok := e.(sip.DigitEvent); ok {
				events = append(events, d.Digit)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("digit events %q", string(events))
		}
	}
	if string(events) != "12#9" {
		t.Fatalf("digit events %q, want 12#9", string(events))
	}
}

func TestHangupCauses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		state    string
		q850     int
		want     sip.Cause
		wantSide sip.Side
	}{
		{"normal clearing", "Up", 16, sip.CauseNormal, sip.SideRemote},
		{"busy", "Up", 17, sip.CauseBusy, sip.SideRemote},
		{"no answer", "Up", 19, sip.CauseNoAnswer, sip.SideRemote},
		{"rejected", "Up", 21, sip.CauseRejected, sip.SideRemote},
		{"unreachable", "Up", 20, sip.CauseUnreachable, sip.SideRemote},
		{"interworking", "Up", 127, sip.CauseFailure, sip.SideRemote},
		{"caller gives up while ringing", "Ring", 16, sip.CauseCancelled, sip.SideRemote},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, nil, nil)
			l := f.inbound(t, "c1", tc.state)
			f.cl.send(destroyed("c1", tc.q850))
			end := waitDone(t, l)
			if end.Cause != tc.want || end.Side != tc.wantSide {
				t.Fatalf("Ended = %+v, want %s/%s", end, tc.want, tc.wantSide)
			}
			if _, ok := <-l.Events(); ok {
				t.Fatal("Events() still open after Done")
			}
		})
	}
}

func TestLocalHangupReasons(t *testing.T) {
	for _, tc := range []struct {
		cause  sip.Cause
		state  string
		reason string
	}{
		{sip.CauseNormal, "Up", "normal"}, {sip.CauseNormal, "Ring", "normal_unspecified"},
		{sip.CauseCancelled, "Ring", "normal_unspecified"}, {sip.CauseBusy, "Ring", "busy"},
		{sip.CauseNoAnswer, "Ring", "no_answer"}, {sip.CauseRejected, "Ring", "rejected"},
		{sip.CauseUnreachable, "Ring", "unallocated"}, {sip.CauseShutdown, "Ring", "congestion"},
		{sip.CauseFailure, "Up", "failure"},
	} {
		t.Run(tc.cause.String()+"-"+tc.state, func(t *testing.T) {
			f := start(t, nil, nil)
			l := f.inbound(t, "c1", tc.state)
			if err := l.Hangup(tc.cause); err != nil {
				t.Fatal(err)
			}
			c := f.rec.waitCall(t, "hangup", "c1")
			if c.args[0] != tc.reason {
				t.Fatalf("ARI hangup reason %q, want %q", c.args[0], tc.reason)
			}
			end := waitDone(t, l)
			if end.Cause != tc.cause || end.Side != sip.SideLocal {
				t.Fatalf("Ended = %+v", end)
			}
			// ChannelDestroyed afterwards does not change the record.
			f.cl.send(destroyed("c1", 16))
			if end2, _ := l.Ended(); end2 != end {
				t.Fatalf("Ended changed to %+v", end2)
			}
		})
	}
}

func TestPlay(t *testing.T) {
	f := start(t, nil, nil)
	l := f.inbound(t, "c1", "Up")
	ctx := context.Background()

	// Runs to the end: PlaybackFinished "done".
	res := make(chan error, 1)
	go func() {
		_, err := l.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "vm-intro"}, {Name: "hotline/greeting", Lang: "en"}}})
		res <- err
	}()
	c := f.rec.waitCall(t, "play", "c1")
	if got := strings.Join(c.args[1:], " "); got != "sound:ru/vm-intro sound:en/hotline/greeting" {
		t.Fatalf("media URIs %q", got)
	}
	f.cl.send(playbackFinished(c.args[0], "done"))
	if err := <-res; err != nil {
		t.Fatalf("Play = %v", err)
	}

	// A missing sound: Asterisk reports the playback failed.
	f.rec.reset()
	go func() {
		_, err := l.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "no-such"}}})
		res <- err
	}()
	c = f.rec.waitCall(t, "play", "c1")
	f.cl.send(playbackFinished(c.args[0], "failed"))
	if err := <-res; !errors.Is(err, sip.ErrUnknownPrompt) {
		t.Fatalf("Play of a failed sound = %v, want ErrUnknownPrompt", err)
	}

	// Barge-in: a digit stops the playback and stays in the buffer.
	f.rec.reset()
	digit := make(chan rune, 1)
	go func() {
		d, err := l.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "vm-intro"}}, StopOnDigit: true})
		if err != nil {
			t.Error(err)
		}
		digit <- d
	}()
	c = f.rec.waitCall(t, "play", "c1")
	f.cl.send(dtmf("c1", "5"))
	if d := <-digit; d != '5' {
		t.Fatalf("barge-in digit %q", d)
	}
	f.rec.waitCall(t, "playback-stop", c.args[0])
	if got, _ := l.ReadDigits(ctx, sip.DigitOptions{Max: 1}); got != "5" {
		t.Fatalf("ReadDigits after barge-in = %q", got)
	}

	// Hang-up during playback.
	go func() {
		_, err := l.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "vm-intro"}}})
		res <- err
	}()
	f.cl.send(destroyed("c1", 16))
	if err := <-res; !errors.Is(err, sip.ErrHangup) {
		t.Fatalf("Play during hang-up = %v, want ErrHangup", err)
	}
}

func TestMediaURIs(t *testing.T) {
	for _, tc := range []struct {
		p       sip.Prompt
		want    string
		wantErr bool
	}{
		{sip.Prompt{Name: "queue-thereare"}, "sound:ru/queue-thereare", false},
		{sip.Prompt{Name: "digits/5", Lang: "en"}, "sound:en/digits/5", false},
		{sip.Prompt{Name: "hotline/greeting.wav"}, "sound:ru/hotline/greeting", false},
		{sip.Prompt{Silence: 1500 * time.Millisecond}, "sound:silence/2", false},
		{sip.Prompt{Silence: 12 * time.Second}, "sound:silence/10 sound:silence/2", false},
		{sip.Prompt{Name: "../../etc/passwd"}, "", true},
		{sip.Prompt{Name: "/etc/passwd"}, "", true},
		{sip.Prompt{}, "", true},
	} {
		got, err := MediaURIs(tc.p, "ru")
		if (err != nil) != tc.wantErr || strings.Join(got, " ") != tc.want {
			t.Errorf("MediaURIs(%+v) = %v, %v; want %q (error %v)", tc.p, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, sip.ErrUnknownPrompt) {
			t.Errorf("MediaURIs(%+v) error %v is not ErrUnknownPrompt", tc.p, err)
		}
	}
}

func TestMOH(t *testing.T) {
	f := start(t, nil, nil)
	l := f.inbound(t, "c1", "Up")
	if err := l.StartMOH("default"); err != nil {
		t.Fatal(err)
	}
	if c := f.rec.waitCall(t, "moh", "c1"); c.args[0] != "default" {
		t.Fatalf("MOH class %v", c.args)
	}
	if err := l.StartMOH("jazz"); !errors.Is(err, sip.ErrUnknownMOH) {
		t.Fatalf("StartMOH(jazz) = %v, want ErrUnknownMOH", err)
	}
	if err := l.StopMOH(); err != nil {
		t.Fatal(err)
	}
	f.rec.waitCall(t, "stopmoh", "c1")
}

func TestBridge(t *testing.T) {
	f := start(t, nil, nil)
	a := f.inbound(t, "c1", "Up")
	b := f.inbound(t, "c2", "Up")
	res := make(chan error, 1)
	go func() { res <- a.Bridge(context.Background(), b) }()
	c := f.rec.waitCall(t, "bridge-create", "")
	if c.args[0] != "mixing" {
		t.Fatalf("bridge type %v", c.args)
	}
	f.rec.waitCall(t, "bridge-add", c.id)
	if err := b.Bridge(context.Background(), a); !errors.Is(err, sip.ErrAlreadyBridged) {
		t.Fatalf("second Bridge = %v", err)
	}
	// DTMF during the bridge still reaches the leg's events (feature codes).
	f.cl.send(dtmf("c1", "*"))
	select {
	case e := <-a.Events():
		if d, ok := e.(sip.DigitEvent); !ok || d.Digit != '*' {
			t.Fatalf("event %#v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no digit event during the bridge")
	}
	f.cl.send(destroyed("c2", 16))
	if err := <-res; err != nil {
		t.Fatalf("Bridge = %v, want nil when the other leg ends", err)
	}
	f.rec.waitCall(t, "bridge-remove", c.id)
	f.rec.waitCall(t, "bridge-delete", c.id)
	if _, ok := a.Ended(); ok {
		t.Fatal("the remaining leg ended with the bridge")
	}
}

// TestCloseLeavesBridge: closing the switch (hotline stopping) ends the
// legs for their users but leaves the call in Asterisk: the bridge is not
// dismantled, so the conversation goes on until a restarted hotline finds
// it (TestRealRestart shows that on a real Asterisk).
func TestCloseLeavesBridge(t *testing.T) {
	f := start(t, nil, nil)
	a := f.inbound(t, "c1", "Up")
	b := f.inbound(t, "c2", "Up")
	res := make(chan error, 1)
	go func() { res <- a.Bridge(context.Background(), b) }()
	c := f.rec.waitCall(t, "bridge-create", "")
	f.rec.waitCall(t, "bridge-add", c.id)
	f.sw.Close()
	// Either leg may be ended first: ErrHangup (this one) or nil (the other).
	if err := <-res; err != nil && !errors.Is(err, sip.ErrHangup) {
		t.Fatalf("Bridge after Close = %v, want ErrHangup or nil", err)
	}
	if e, _ := a.Ended(); e.Cause != sip.CauseShutdown {
		t.Fatalf("end %+v, want shutdown", e)
	}
	for _, op := range []string{"bridge-remove", "bridge-delete", "hangup"} {
		if f.rec.has(op, c.id) || f.rec.has(op, "c1") || f.rec.has(op, "c2") {
			t.Fatalf("Close made ARI request %s; the call must stay up in Asterisk", op)
		}
	}
}

// TestBlindTransfer replays what Asterisk 22 sends when an agent bridged
// to a caller blind-transfers (REFER) to 2000: BridgeBlindTransfer, a Local
// channel swapped into the bridge for the agent (StasisStart with
// replace_channel) and its other half entering from [hotline-transfer]
// with the "transfer" argument. hotline reports the transfer on the agent's
// leg and hangs both Local halves up; the caller's leg is untouched.
func TestBlindTransfer(t *testing.T) {
	f := start(t, nil, nil)
	agent := f.inbound(t, "agent-ch", "Up", "agent=a1")
	caller := f.inbound(t, "caller-ch", "Up", "trunk=provider")
	f.cl.send(&ari.BridgeBlindTransfer{EventData: evData("BridgeBlindTransfer"), Exten: "2000", Context: "hotline-transfer",
		Result: "Success", Channel: ari.ChannelData{ID: "agent-ch"}, Transferee: ari.ChannelData{ID: "caller-ch"},
		ReplaceChannel: ari.ChannelData{ID: "local-1"}})
	select {
	case e := <-agent.Events():
		tr, ok := e.(sip.TransferEvent)
		if !ok || tr.Target != "2000" {
			t.Fatalf("event %#v, want a transfer to 2000", e)
		}
		tr.Reply(true)
		tr.Reply(false) // only the first counts, and it never panics
	case <-time.After(5 * time.Second):
		t.Fatal("no TransferEvent")
	}
	swapped := stasisStart("local-1", "79123456789", "2000", "Up")
	swapped.ReplaceChannel = ari.ChannelData{ID: "agent-ch"}
	f.cl.send(swapped)
	f.cl.send(stasisStart("local-2", "79123456789", "2000", "Up", "transfer", "to=2000"))
	f.rec.waitCall(t, "hangup", "local-1")
	f.rec.waitCall(t, "hangup", "local-2")
	select {
	case l := <-f.sw.Incoming():
		t.Fatalf("a transfer channel was delivered as a call: %+v", l.Info())
	case <-time.After(100 * time.Millisecond):
	}
	if _, ok := caller.Ended(); ok {
		t.Fatal("the transferred caller's leg ended")
	}
	// A transfer Asterisk did not carry out (REFER from a channel in no
	// bridge: result Invalid) is not reported.
	f.cl.send(&ari.BridgeBlindTransfer{EventData: evData("BridgeBlindTransfer"), Exten: "2000", Result: "Invalid",
		Channel: ari.ChannelData{ID: "caller-ch"}})
	select {
	case e := <-caller.Events():
		t.Fatalf("event %#v for a failed transfer", e)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestLeaveStasis: Asterisk sends no ChannelDestroyed after StasisEnd, so a
// hang-up is known from the ChannelHangupRequest before it and must end the
// leg at once; a channel that leaves alive may come back within
// TransferGrace (200 ms in the fixture), else its leg ends.
func TestLeaveStasis(t *testing.T) {
	hangupReq := func(id string, cause int) *ari.ChannelHangupRequest {
		return &ari.ChannelHangupRequest{EventData: evData("ChannelHangupRequest"), Cause: cause, Channel: ari.ChannelData{ID: id}}
	}
	end := func(id string) *ari.StasisEnd {
		return &ari.StasisEnd{EventData: evData("StasisEnd"), Channel: ari.ChannelData{ID: id}}
	}
	for _, tc := range []struct {
		name   string
		state  string
		cause  int
		want   sip.Cause
		answer bool
	}{
		{"caller hangs up a talking call", "Up", 16, sip.CauseNormal, false},
		{"caller gives up before the answer", "Ring", 16, sip.CauseCancelled, false},
		{"caller gives up after hotline answered", "Ring", 16, sip.CauseNormal, true},
		{"busy", "Up", 17, sip.CauseBusy, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, nil, nil)
			l := f.inbound(t, "c1", tc.state, "trunk=provider")
			if tc.answer {
				if err := l.Answer(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			f.cl.send(hangupReq("c1", tc.cause))
			f.cl.send(end("c1"))
			select {
			case <-l.Done():
			case <-time.After(100 * time.Millisecond): // well inside the 200 ms grace
				t.Fatal("the leg did not end at StasisEnd after a hang-up request")
			}
			if e, _ := l.Ended(); e.Cause != tc.want || e.Side != sip.SideRemote {
				t.Fatalf("end %+v, want %s remote", e, tc.want)
			}
		})
	}
	t.Run("left alive and came back", func(t *testing.T) {
		f := start(t, nil, nil)
		l := f.inbound(t, "c1", "Up", "trunk=provider")
		f.cl.send(end("c1"))
		f.cl.send(stasisStart("c1", "79123456789", "2000", "Up"))
		time.Sleep(400 * time.Millisecond) // longer than the grace: the re-entry must have cancelled it
		if _, ok := l.Ended(); ok {
			t.Fatal("the leg ended although its channel came back")
		}
	})
	t.Run("left alive for good", func(t *testing.T) {
		f := start(t, nil, nil)
		l := f.inbound(t, "c1", "Up", "trunk=provider")
		f.cl.send(end("c1"))
		if e := waitDone(t, l); e.Cause != sip.CauseNormal || e.Side != sip.SideRemote {
			t.Fatalf("end %+v", e)
		}
	})
}

func TestDial(t *testing.T) {
	type step func(f *fixture, id string)
	answer := func(f *fixture, id string) {
		f.cl.send(&ari.StasisStart{EventData: evData("StasisStart"), Args: []string{"dial"}, Channel: ari.ChannelData{ID: id, State: "Up"}})
	}
	dialStatus := func(s string, q850 int) step {
		return func(f *fixture, id string) {
			f.cl.send(&ari.Dial{EventData: evData("Dial"), Dialstatus: s, Peer: ari.ChannelData{ID: id}})
			f.cl.send(destroyed(id, q850))
		}
	}
	for _, tc := range []struct {
		name     string
		target   sip.Target
		endpoint string
		then     step
		want     sip.Cause // ignored when answered
		answered bool
	}{
		{"agent answers", sip.Target{Agent: "a1"}, "PJSIP/a1", answer, 0, true},
		{"number through the default trunk", sip.Target{Number: "79990001122"}, "PJSIP/79990001122@provider", answer, 0, true},
		{"busy", sip.Target{Agent: "a1"}, "PJSIP/a1", dialStatus("BUSY", 17), sip.CauseBusy, false},
		{"no answer", sip.Target{Agent: "a1"}, "PJSIP/a1", dialStatus("NOANSWER", 19), sip.CauseNoAnswer, false},
		{"unregistered agent", sip.Target{Agent: "a1"}, "PJSIP/a1", dialStatus("CHANUNAVAIL", 20), sip.CauseUnreachable, false},
		{"destroyed without dial status", sip.Target{Agent: "a1"}, "PJSIP/a1", dialStatus("", 21), sip.CauseRejected, false},
		{"unknown endpoint", sip.Target{Agent: "missing"}, "PJSIP/missing", nil, sip.CauseUnreachable, false},
		{"unknown trunk", sip.Target{Number: "1", Trunk: "nope"}, "", nil, sip.CauseUnreachable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, nil, nil)
			tc.target.RingTimeout = 20 * time.Second
			type result struct {
				l   sip.Leg
				err error
			}
			res := make(chan result, 1)
			go func() {
				l, err := f.sw.Dial(context.Background(), tc.target)
				res <- result{l, err}
			}()
			if tc.endpoint != "" {
				c := f.rec.waitCall(t, "originate", "")
				if c.args[0] != tc.endpoint || c.args[1] != "hotline" || c.args[2] != "dial" || c.args[3] != "20" {
					t.Fatalf("originate %v", c)
				}
				if tc.then != nil {
					tc.then(f, c.id)
				}
			}
			r := <-res
			if tc.answered {
				if r.err != nil {
					t.Fatalf("Dial = %v", r.err)
				}
				info := r.l.Info()
				if info.Direction != sip.Outbound || info.Agent != tc.target.Agent || info.From != "88001234567" {
					t.Fatalf("Info() = %+v", info)
				}
				return
			}
			var de *sip.DialError
			if !errors.As(r.err, &de) || de.Cause != tc.want {
				t.Fatalf("Dial = %v, want cause %s", r.err, tc.want)
			}
		})
	}
}

func TestDialCancelled(t *testing.T) {
	f := start(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := f.sw.Dial(ctx, sip.Target{Agent: "a1"})
		res <- err
	}()
	c := f.rec.waitCall(t, "originate", "")
	cancel()
	if err := <-res; sip.CauseOf(err) != sip.CauseCancelled {
		t.Fatalf("Dial = %v, want cancelled", err)
	}
	f.rec.waitCall(t, "hangup", c.id)
	// A late answer of the abandoned channel is hung up, not delivered.
	f.cl.send(&ari.StasisStart{EventData: evData("StasisStart"), Args: []string{"dial"}, Channel: ari.ChannelData{ID: c.id, State: "Up"}})
	select {
	case l := <-f.sw.Incoming():
		t.Fatalf("abandoned channel delivered as %+v", l.Info())
	case <-time.After(100 * time.Millisecond):
	}
}

func TestResyncOnStart(t *testing.T) {
	f := start(t, nil, func(c *fakeClient) {
		c.app = ari.ApplicationData{
			ChannelIDs: []string{"waiting", "ringing", "hl-out-old", "talk-a", "talk-b"},
			BridgeIDs:  []string{"b1"},
		}
		c.bridges["b1"] = []string{"talk-a", "talk-b"}
		c.chans["waiting"] = &ari.ChannelData{ID: "waiting", State: "Up", Caller: &ari.CallerID{Number: "79120000001"}, Dialplan: &ari.DialplanCEP{Exten: "88001234567"}}
		c.chans["ringing"] = &ari.ChannelData{ID: "ringing", State: "Ring", Caller: &ari.CallerID{Number: "79120000002"}}
	})
	got := map[string]sip.Leg{}
	for len(got) < 2 {
		select {
		case l := <-f.sw.Incoming():
			got[l.Info().ID] = l
		case <-time.After(5 * time.Second):
			t.Fatalf("re-adopted %d legs, want 2", len(got))
		}
	}
	if got["waiting"].Info().From != "79120000001" {
		t.Fatalf("re-adopted info %+v", got["waiting"].Info())
	}
	// The answered caller hears music until call logic takes over, and it
	// needs no Answer; the ringing one is still unanswered.
	f.rec.waitCall(t, "moh", "waiting")
	if f.rec.has("moh", "ringing") {
		t.Fatal("MOH started on an unanswered channel")
	}
	if err := got["waiting"].StopMOH(); err != nil {
		t.Fatal(err)
	}
	f.rec.waitCall(t, "stopmoh", "waiting")
	// The orphaned outbound channel is hung up; the bridged call goes on.
	f.rec.waitCall(t, "hangup", "hl-out-old")
	if f.rec.has("hangup", "talk-a") || f.rec.has("hangup", "talk-b") {
		t.Fatal("a call in progress was hung up")
	}
	// When one side of the kept call hangs up, hotline ends the other.
	f.cl.send(destroyed("talk-a", 16))
	f.rec.waitCall(t, "hangup", "talk-b")
	f.rec.waitCall(t, "bridge-delete", "b1")
}

func TestReconnectResync(t *testing.T) {
	f := start(t, func(c *Config) { c.Heartbeat = 10 * time.Millisecond }, nil)
	l := f.inbound(t, "c1", "Up")
	kept := f.inbound(t, "c2", "Up")

	// The second connection finds c2 still there and c1 gone (its
	// ChannelDestroyed was lost during the outage).
	next := newFakeClient(f.rec)
	next.app = ari.ApplicationData{ChannelIDs: []string{"c2"}}
	f.clients <- next
	f.cl.down.Store(true)

	end := waitDone(t, l)
	if end.Side != sip.SideRemote {
		t.Fatalf("c1 end %+v", end)
	}
	f.rec.waitCall(t, "close", "")
	if _, ok := kept.Ended(); ok {
		t.Fatal("a leg that survived the outage ended")
	}
	// Operations use the new connection.
	if err := kept.StartMOH("default"); err != nil {
		t.Fatalf("StartMOH after reconnect: %v", err)
	}
	f.rec.waitCall(t, "moh", "c2")
	if !f.sw.Connected() {
		t.Fatal("not connected after the reconnect")
	}
}

func TestExpLoggerAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newExpLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Debug("hidden")
	l.With("component", "ari").WithGroup("ws").Error("read failure", "error", "EOF", xslog.Group("peer", "port", 8088))
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Fatalf("debug line passed an info handler: %s", out)
	}
	for _, want := range []string{"level=ERROR", `msg="read failure"`, "component=ari", "ws.error=EOF", "ws.peer.port=8088"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log line %q lacks %q", out, want)
		}
	}
}

func TestCauseMapping(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   sip.Cause
		ok     bool
	}{
		{"BUSY", sip.CauseBusy, true}, {"NOANSWER", sip.CauseNoAnswer, true}, {"CHANUNAVAIL", sip.CauseUnreachable, true},
		{"CONGESTION", sip.CauseUnreachable, true}, {"CANCEL", sip.CauseCancelled, true}, {"RINGING", 0, false}, {"", 0, false},
	} {
		if got, ok := causeFromDialStatus(tc.status); got != tc.want || ok != tc.ok {
			t.Errorf("causeFromDialStatus(%q) = %s, %v", tc.status, got, ok)
		}
	}
}

// TestRegistered: the queue asks Registered before ringing an agent. The
// switch polls the agents' PJSIP endpoint states (at connection, then every
// heartbeat); an endpoint the poll found offline is checked again live
// before the agent is skipped, online and unknown ones are rung.
func TestRegistered(t *testing.T) {
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	setState := func(f *fixture, r, st string) {
		f.cl.mu.Lock()
		f.cl.eps[r] = st
		f.cl.mu.Unlock()
	}
	// No polling after the first (heartbeat 1 h).
	f := start(t, nil, func(c *fakeClient) { c.eps = map[string]string{"a1": "online", "a2": "offline"} })
	eventually("a2 offline", func() bool { return !f.sw.Registered("a2") })
	if !f.sw.Registered("a1") || !f.sw.Registered("a3") {
		t.Fatal("an online or unknown agent counts as not registered")
	}
	setState(f, "a2", "online") // the phone registered after the poll
	if !f.sw.Registered("a2") {
		t.Fatal("a stale offline state kept an agent who registered since from being rung")
	}
	reads := f.cl.epReads.Load()
	if f.sw.Registered("a2"); f.cl.epReads.Load() != reads {
		t.Fatal("an online agent cost a request to Asterisk")
	}

	// Polling follows changes.
	g := start(t, func(c *Config) { c.Heartbeat = 10 * time.Millisecond },
		func(c *fakeClient) { c.eps = map[string]string{"a1": "online"} })
	time.Sleep(30 * time.Millisecond)
	setState(g, "a1", "offline")
	eventually("a1 offline at a later poll", func() bool { return !g.sw.Registered("a1") })

	// A dial string that is not TECH/%s: no states, everybody is rung.
	h := start(t, func(c *Config) { c.AgentEndpoint = "PJSIP/%s@office"; c.Heartbeat = 10 * time.Millisecond },
		func(c *fakeClient) { c.eps = map[string]string{"a2": "offline"} })
	time.Sleep(50 * time.Millisecond)
	if !h.sw.Registered("a2") || h.cl.epReads.Load() != 0 {
		t.Fatal("presence used for a dial string it cannot map to an endpoint")
	}
}
