package reporting

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// apiStore is a store with a projected synthetic day (2024-03-10, 09:00–19:00
// Moscow) for API and CLI tests.
func apiStore(t *testing.T) (*Store, time.Time) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	cfg := &Config{Queues: map[string]QueueConfig{"l2": {Threshold: 60 * time.Second, Line: LineSecond}},
		Teams: map[string]string{"a1": "outsourced", "a2": "outsourced", "a3": "inhouse", "b1": "inhouse"}}
	s := newStore(t, cfg)
	start := time.Date(2024, 3, 10, 6, 0, 0, 0, time.UTC)
	if err := s.InsertEvents(ctx, synth(3, 300, start, 10*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Project(ctx); err != nil {
		t.Fatal(err)
	}
	return s, start
}

func TestReportAPI(t *testing.T) {
	s, start := apiStore(t)
	ctx := context.Background()
	now := start.Add(40 * 24 * time.Hour)
	srv := httptest.NewServer(NewAPI(s, APIOptions{Now: func() time.Time { return now }}).Handler())
	defer srv.Close()

	// Moscow day 2024-03-10 = [2024-03-09T21:00Z, 2024-03-10T21:00Z).
	dayFrom, dayTo := time.Date(2024, 3, 9, 21, 0, 0, 0, time.UTC), time.Date(2024, 3, 10, 21, 0, 0, 0, time.UTC)
	wantIntervals, _ := s.IntervalReport(ctx, dayFrom, dayTo, time.Hour, []string{"sales"})
	wantDay, _ := s.IntervalReport(ctx, dayFrom, dayTo, Day, nil)
	wantQueues, _ := s.QueueReport(ctx, dayFrom, dayTo)
	wantAgents, wantTeams, _ := s.AgentReport(ctx, dayFrom, dayTo, now)
	wantFCR, _ := s.FCRReport(ctx, dayFrom, dayTo, now)
	wantCSI, _ := s.CSIReport(ctx, dayFrom, dayTo, ByAgent)
	wantEsc, _ := s.EscalationReport(ctx, dayFrom, dayTo)
	if len(wantIntervals) == 0 || len(wantQueues) < 3 || len(wantTeams) != 2 || wantEsc.Escalated == 0 || len(wantCSI) == 0 {
		t.Fatalf("synthetic data too thin: %d intervals, %d queues, %d teams, %d escalations, %d CSI rows",
			len(wantIntervals), len(wantQueues), len(wantTeams), wantEsc.Escalated, len(wantCSI))
	}
	day := "from=2024-03-10&to=2024-03-10"

	cases := []struct {
		name     string
		path     string
		accept   string
		status   int
		csvRows  int // data rows expected in CSV (-1: not CSV)
		wantJSON any // compared with data after a JSON round trip
		errPart  string
	}{
		{"intervals hourly by date", "/intervals?" + day + "&step=60m&queue=sales", "", 200, -1, wantIntervals, ""},
		{"intervals RFC 3339", "/intervals?from=2024-03-10T00:00:00%2B03:00&to=2024-03-11T00:00:00%2B03:00&step=1h&queue=sales", "", 200, -1, wantIntervals, ""},
		{"intervals day", "/intervals?" + day + "&step=day", "", 200, -1, wantDay, ""},
		{"intervals csv", "/intervals?" + day + "&step=60m&queue=sales&format=csv", "", 200, len(wantIntervals), nil, ""},
		{"intervals accept csv", "/intervals?" + day + "&step=day", "text/csv", 200, len(wantDay), nil, ""},
		{"queues", "/queues?" + day, "", 200, -1, wantQueues, ""},
		{"queues csv", "/queues?" + day + "&format=csv", "", 200, len(wantQueues), nil, ""},
		{"agents", "/agents?" + day, "", 200, -1, wantAgents, ""},
		{"teams", "/teams?" + day, "", 200, -1, wantTeams, ""},
		{"teams csv", "/teams?" + day, "text/csv", 200, 2, nil, ""},
		{"fcr", "/fcr?" + day, "", 200, -1, wantFCR, ""},
		{"fcr csv", "/fcr?" + day + "&format=csv", "", 200, 4 * len(wantFCR), nil, ""},
		{"csi by agent", "/csi?" + day + "&by=agent", "", 200, -1, wantCSI, ""},
		{"escalations", "/escalations?" + day, "", 200, -1, wantEsc, ""},
		{"escalations csv", "/escalations?" + day + "&format=csv", "", 200, 11 + len(wantEsc.Pairs), nil, ""},
		{"bad step", "/intervals?" + day + "&step=7m", "", 400, -1, nil, "step"},
		{"bad from", "/queues?from=yesterday", "", 400, -1, nil, "from"},
		{"bad to", "/queues?from=2024-03-10&to=2024-13-01", "", 400, -1, nil, "to"},
		{"reversed", "/queues?from=2024-03-11&to=2024-03-10", "", 400, -1, nil, "before"},
		{"too long", "/queues?from=2020-01-01&to=2024-03-10", "", 400, -1, nil, "maximum"},
		{"bad by", "/csi?" + day + "&by=weather", "", 400, -1, nil, "by"},
		{"bad format", "/queues?" + day + "&format=xml", "", 400, -1, nil, "format"},
		{"unknown report", "/weather?" + day, "", 404, -1, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/api/v1/reports"+c.path, nil)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			switch {
			case c.status == 400:
				var e struct{ Error string }
				if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || !strings.Contains(e.Error, c.errPart) {
					t.Errorf("error body %+v (%v), want it to mention %q", e, err, c.errPart)
				}
			case c.csvRows >= 0:
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
					t.Errorf("Content-Type %q", ct)
				}
				recs, err := csv.NewReader(resp.Body).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				if len(recs)-1 != c.csvRows {
					t.Errorf("%d CSV data rows, want %d", len(recs)-1, c.csvRows)
				}
			case c.wantJSON != nil:
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				var got struct {
					From, To time.Time
					Data     json.RawMessage
				}
				if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
					t.Fatal(err)
				}
				if !got.From.Equal(dayFrom) || !got.To.Equal(dayTo) {
					t.Errorf("range %v – %v, want %v – %v", got.From, got.To, dayFrom, dayTo)
				}
				want, _ := json.Marshal(c.wantJSON)
				var g, w any
				json.Unmarshal(got.Data, &g)
				json.Unmarshal(want, &w)
				if !reflect.DeepEqual(g, w) {
					t.Errorf("data differs from the Store report:\n got %s\nwant %s", got.Data, want)
				}
			}
		})
	}

	// POST is not allowed.
	resp, err := http.Post(srv.URL+"/api/v1/reports/queues", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST status %d", resp.StatusCode)
	}
}

func TestParseReportTime(t *testing.T) {
	loc := moscow()
	for _, c := range []struct {
		in   string
		end  bool
		want time.Time
		ok   bool
	}{
		{"2024-03-10", false, time.Date(2024, 3, 9, 21, 0, 0, 0, time.UTC), true},
		{"2024-03-10", true, time.Date(2024, 3, 10, 21, 0, 0, 0, time.UTC), true},
		{"2024-03-10T12:00:00Z", true, time.Date(2024, 3, 10, 12, 0, 0, 0, time.UTC), true},
		{"2024-03-10T12:00:00+03:00", false, time.Date(2024, 3, 10, 9, 0, 0, 0, time.UTC), true},
		{"10.03.2024", false, time.Time{}, false},
		{"2024-03-10 12:00", false, time.Time{}, false},
	} {
		got, err := ParseReportTime(c.in, loc, c.end)
		if (err == nil) != c.ok || (c.ok && !got.Equal(c.want)) {
			t.Errorf("ParseReportTime(%q, end=%v) = %v, %v; want %v (ok %v)", c.in, c.end, got, err, c.want, c.ok)
		}
	}
	for in, want := range map[string]time.Duration{"15m": Interval, "30m": 30 * time.Minute, "60m": time.Hour, "1h": time.Hour, "day": Day} {
		if got, err := ParseStep(in); err != nil || got != want {
			t.Errorf("ParseStep(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseStep("45m"); err == nil {
		t.Error("ParseStep(45m) accepted")
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	f := Counts{Offered: 4, Answered: 2, AnsweredWithinT: 1, Abandoned: 2, ShortAbandoned: 1, WaitAnswered: 30 * time.Second}.Figures()
	if err := WriteTable(&b, QueueTable([]QueueFigures{{Queue: "sales", Figures: f}, {Queue: "empty"}})); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	// Columns align: "answered" starts at the same offset on every line.
	h := strings.Index(lines[0], "answered ")
	for _, want := range []string{"sales", "4", "2", "0.5000", "15.0"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if strings.Index(lines[1], " 2 ") < h-2 || !strings.Contains(lines[2], " - ") {
		t.Errorf("table not aligned or undefined not shown as -:\n%s", b.String())
	}
}
