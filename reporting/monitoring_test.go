package reporting

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
)

func TestComputeMonitoring(t *testing.T) {
	ev := func(typ eventlog.Type, call, agent, sup, mode string, d time.Duration) eventlog.Event {
		e := eventlog.Event{Type: typ, CallID: call, Agent: agent}.WithString(eventlog.KeySupervisor, sup).WithString(eventlog.KeyMode, mode)
		if typ == eventlog.MonitorEnded {
			e = e.WithDuration(eventlog.KeyMonitored, d)
		}
		return e
	}
	tests := []struct {
		name string
		evs  []eventlog.Event
		want []MonitoringFigures
	}{
		{"none", nil, []MonitoringFigures{}},
		{"listen, then whisper and barge in one session; a second call", []eventlog.Event{
			ev(eventlog.MonitorStarted, "c1", "a1", "sv", "listen", 0),
			ev(eventlog.MonitorMode, "c1", "a1", "sv", "whisper", 0),
			ev(eventlog.MonitorMode, "c1", "a1", "sv", "barge", 0),
			ev(eventlog.MonitorEnded, "c1", "a1", "sv", "barge", 90*time.Second),
			ev(eventlog.MonitorStarted, "c2", "a1", "sv", "listen", 0),
			ev(eventlog.MonitorEnded, "c2", "a1", "sv", "listen", 30*time.Second),
		}, []MonitoringFigures{{Supervisor: "sv", Sessions: 2, Calls: 2, Agents: 1, Listened: 2, Whispered: 1, Barged: 1, TimeS: 120}}},
		{"by supervisor, in name order; an unended session is not counted", []eventlog.Event{
			ev(eventlog.MonitorStarted, "c1", "a2", "zed", "whisper", 0),
			ev(eventlog.MonitorStarted, "c1", "a2", "amy", "listen", 0),
			ev(eventlog.MonitorEnded, "c1", "a2", "zed", "whisper", 10*time.Second),
			ev(eventlog.MonitorStarted, "c3", "a3", "amy", "barge", 0),
		}, []MonitoringFigures{{Supervisor: "zed", Sessions: 1, Calls: 1, Agents: 1, Whispered: 1, TimeS: 10}}},
		{"the same supervisor twice on one call", []eventlog.Event{
			ev(eventlog.MonitorStarted, "c1", "a1", "sv", "whisper", 0),
			ev(eventlog.MonitorEnded, "c1", "a1", "sv", "whisper", 5*time.Second),
			ev(eventlog.MonitorStarted, "c1", "a1", "sv", "listen", 0),
			ev(eventlog.MonitorEnded, "c1", "a1", "sv", "listen", 5*time.Second),
		}, []MonitoringFigures{{Supervisor: "sv", Sessions: 2, Calls: 1, Agents: 1, Listened: 1, Whispered: 1, TimeS: 10}}},
		{"one session following its call from first to second line: both agents", []eventlog.Event{
			ev(eventlog.MonitorStarted, "c1", "a1", "sv", "whisper", 0),
			ev(eventlog.MonitorFollowed, "c1", "b1", "sv", "whisper", 0).WithString(eventlog.KeyFromAgent, "a1"),
			ev(eventlog.MonitorEnded, "c1", "b1", "sv", "whisper", 40*time.Second),
		}, []MonitoringFigures{{Supervisor: "sv", Sessions: 1, Calls: 1, Agents: 2, Whispered: 1, TimeS: 40}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ComputeMonitoring(tc.evs); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestMonitoringReport: monitor events stored in PostgreSQL come back
// summed from GET /api/v1/reports/monitoring (JSON and CSV); a session
// ended outside the range does not count.
func TestMonitoringReport(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	s := newStore(t, &Config{})
	at := time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC)
	n := 0
	ev := func(typ eventlog.Type, call, sup, mode string, off, d time.Duration) eventlog.Event {
		n++
		e := eventlog.Event{ID: fmt.Sprintf("m%03d", n), At: at.Add(off), Type: typ, CallID: call, Agent: "a1", Queue: "q"}.
			WithString(eventlog.KeySupervisor, sup).WithString(eventlog.KeyMode, mode).WithString(eventlog.KeyVia, "phone")
		if typ == eventlog.MonitorEnded {
			e = e.WithDuration(eventlog.KeyMonitored, d)
		}
		return e
	}
	if err := s.InsertEvents(ctx, []eventlog.Event{
		ev(eventlog.MonitorStarted, "c1", "sv", "listen", 0, 0),
		ev(eventlog.MonitorMode, "c1", "sv", "whisper", time.Minute, 0),
		ev(eventlog.MonitorEnded, "c1", "sv", "whisper", 2*time.Minute, 2*time.Minute),
		ev(eventlog.MonitorStarted, "c2", "sv", "barge", 48*time.Hour, 0),
		ev(eventlog.MonitorEnded, "c2", "sv", "barge", 48*time.Hour+time.Minute, time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewAPI(s, APIOptions{Now: func() time.Time { return at }}).Handler())
	defer srv.Close()
	get := func(q string) *http.Response {
		resp, err := http.Get(srv.URL + "/api/v1/reports/monitoring?from=2024-03-10&to=2024-03-10" + q)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp
	}
	resp := get("")
	var got struct{ Data []MonitoringFigures }
	err := json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	want := []MonitoringFigures{{Supervisor: "sv", Sessions: 1, Calls: 1, Agents: 1, Listened: 1, Whispered: 1, TimeS: 120}}
	if err != nil || !reflect.DeepEqual(got.Data, want) {
		t.Fatalf("got %+v (%v), want %+v", got.Data, err, want)
	}
	resp = get("&format=csv")
	recs, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil || len(recs) != 2 || recs[0][0] != "supervisor" || recs[1][7] != "120.0" {
		t.Fatalf("CSV %v (%v)", recs, err)
	}
}
