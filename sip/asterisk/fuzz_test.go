package asterisk

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/hotline-cc/hotline/sip"
)

// Fuzz targets for the StasisStart arguments hotline reads: the
// Stasis(hotline,key=value,...) application arguments and the channel
// fields inboundInfo takes from the event. Seeds are in
// testdata/fuzz/<target>; see docs/fuzzing.md.

// fuzzNow is the clock of the fuzz targets.
var fuzzNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// FuzzStasisArgs checks stasisArgs on the arguments after the application
// name, comma-separated as in the dialplan. Keys and values come out
// trimmed, a key never holds "=", the last argument of a key wins, and
// writing the map back as key=value arguments reads back the same map.
func FuzzStasisArgs(f *testing.F) {
	f.Add("trunk=provider")
	f.Add("agent=1001,to=*1")
	f.Fuzz(func(t *testing.T, appArgs string) {
		args := strings.Split(appArgs, ",")
		got := stasisArgs(args)
		if len(got) > len(args) {
			t.Fatalf("%d keys from %d arguments", len(got), len(args))
		}
		for k, v := range got {
			if k != strings.TrimSpace(k) || v != strings.TrimSpace(v) || strings.Contains(k, "=") {
				t.Fatalf("key %q value %q: want both trimmed and no '=' in the key", k, v)
			}
		}
		for i, a := range args {
			k, v, _ := strings.Cut(a, "=")
			k = strings.TrimSpace(k)
			last := !slices.ContainsFunc(args[i+1:], func(b string) bool {
				bk, _, _ := strings.Cut(b, "=")
				return strings.TrimSpace(bk) == k
			})
			if gv, ok := got[k]; !ok || (last && gv != strings.TrimSpace(v)) {
				t.Fatalf("argument %q: map has %q %v", a, gv, ok)
			}
		}
		var again []string
		for _, k := range slices.Sorted(maps.Keys(got)) {
			again = append(again, k+"="+got[k])
		}
		if back := stasisArgs(again); !maps.Equal(back, got) {
			t.Fatalf("round trip via %q: %v, want %v", again, back, got)
		}
		checkInboundInfo(t, ari.ChannelData{ID: "1714546800.1", Caller: &ari.CallerID{Number: "79161234567"},
			Dialplan: &ari.DialplanCEP{Exten: "88001234567"}}, got)
	})
}

// FuzzStasisStartEvent decodes an ARI websocket message as the client
// library does and, for a StasisStart, runs what onStasisStart reads from
// it: the arguments and inboundInfo.
func FuzzStasisStartEvent(f *testing.F) {
	f.Add([]byte(`{"type":"StasisStart","application":"hotline","args":["trunk=provider"],"channel":{"id":"1714546800.1","state":"Ring","caller":{"name":"","number":"79161234567"},"dialplan":{"context":"hotline-in","exten":"88001234567","priority":3}}}`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := ari.DecodeEvent(msg)
		if err != nil {
			return // the client logs and drops it
		}
		ev, ok := e.(*ari.StasisStart)
		if !ok {
			return
		}
		checkInboundInfo(t, ev.Channel, stasisArgs(ev.Args))
	})
}

// checkInboundInfo checks inboundInfo's CallInfo for ch and args against
// the contract in docs/asterisk.md: ID = channel ID, From/FromName = caller
// ID (the agent when there is none), To = dialplan extension or to=,
// Trunk/Agent from trunk=/agent=, Created = the channel's creation time if
// it has one, else now.
func checkInboundInfo(t *testing.T, ch ari.ChannelData, args map[string]string) {
	t.Helper()
	info := inboundInfo(ch.ID, ch, args, fuzzNow)
	want := sip.CallInfo{ID: ch.ID, Direction: sip.Inbound, Trunk: args["trunk"], Agent: args["agent"], Created: fuzzNow}
	if ch.Caller != nil {
		want.From, want.FromName = ch.Caller.Number, ch.Caller.Name
	}
	if want.From == "" {
		want.From = want.Agent
	}
	if ch.Dialplan != nil {
		want.To = ch.Dialplan.Exten
	}
	if args["to"] != "" {
		want.To = args["to"]
	}
	if ts := ch.Creationtime; ts != nil && ts.Seconds > 0 {
		want.Created = time.Unix(ts.Seconds, int64(ts.Nanos))
	}
	if info != want {
		t.Fatalf("inboundInfo = %+v\nwant %+v", info, want)
	}
	if info.Created.IsZero() {
		t.Fatal("no creation time")
	}
}
