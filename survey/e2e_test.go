package survey

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/native"
	"github.com/prometheus/client_golang/prometheus"
)

// End to end over the native switch with SIPp as the customer's phone.
// Loopback addresses 127.0.0.20–29 are this package's.
const (
	customerIP = "127.0.0.20" // SIPp customer answering the survey (UAS)
	busyIP     = "127.0.0.21" // SIPp customer who is busy
	callerIP   = "127.0.0.22" // SIPp caller of the original inbound call (trunk source)
	promptsRU  = "/usr/share/asterisk/sounds/ru"
)

type lockedBuf = sipptest.Buffer

func needPeers(t *testing.T) {
	t.Helper()
	sipptest.NeedTools(t, "sipp")
	if _, err := os.Stat(promptsRU); err != nil {
		t.Fatal("install asterisk-core-sounds-ru-wav")
	}
}

// startNative starts the native switch with real media; its trunk sends
// outbound calls to trunkAddr.
func startNative(t *testing.T, trunkAddr string, rtpBase int) (*native.Switch, *lockedBuf) {
	t.Helper()
	logs := &lockedBuf{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	eng, err := media.NewEngine(media.EngineConfig{
		IP: netip.MustParseAddr("127.0.0.1"), PortMin: rtpBase, PortMax: rtpBase + 99,
		InactivityTimeout: 30 * time.Second, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cat, err := media.NewCatalog(media.CatalogConfig{
		Langs: map[string][]string{"ru": {filepath.Join("..", "prompts", "generated", "ru"), promptsRU}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sw, err := native.New(native.Config{
		Listen: "127.0.0.1:0",
		Trunks: []native.Trunk{{Name: "provider", Allow: []string{callerIP}, Address: trunkAddr, CallerID: "+74950000000"}},
		Media:  eng, Catalog: cat, Logger: log, RingTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := sw.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		sw.Close()
		if t.Failed() {
			s := logs.String()
			if len(s) > 6000 {
				s = s[len(s)-6000:]
			}
			t.Logf("switch log:\n%s", s)
		}
	})
	return sw, logs
}

func runSIPp(t *testing.T, scenario string, replace map[string]string, args ...string) *sipptest.SIPp {
	t.Helper()
	return sipptest.Start(t, filepath.Join("..", "deploy", "sipp", scenario), replace, args...)
}

// fanout publishes to several consumers (the wiring in cmd/hotline does
// the same: events go to reporting and to the survey).
type fanout []eventlog.Publisher

func (f fanout) Publish(e eventlog.Event) {
	for _, p := range f {
		p.Publish(e)
	}
}

func TestEndToEndNativeSIPp(t *testing.T) {
	needPeers(t)
	sw, _ := startNative(t, customerIP+":5090", 37100)
	ev := newCollector()
	reg := prometheus.NewRegistry()
	metrics, err := reporting.NewMetrics(reg, reporting.MetricsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig()
	cfg.InputTimeout = 6 * time.Second
	cfg.SayDate = true
	s, db := startService(t, cfg, sw, fanout{ev, metrics})
	bus := fanout{metrics, s}

	// The customer's phone waits for the survey call.
	// The stock pcaps, as they are: "1" after "4" has a lower RTP
	// timestamp under the same SSRC (sip/media must still take it).
	second := "/usr/share/sip-tester/dtmf_2833_1.pcap"
	customer := runSIPp(t, "customer.xml", map[string]string{"FIRST_PCAP": "/usr/share/sip-tester/dtmf_2833_4.pcap",
		"SECOND_PCAP": second, "PAUSE1": "3000", "PAUSE2": "5000"},
		"-i", customerIP, "-p", "5090", "-mi", customerIP, "-mp", "6100", "-m", "1", "-timeout", "90s", "-timeout_error")

	// A real inbound call from that customer over the trunk: answered, a
	// prompt played, hung up by hotline.
	caller := runSIPp(t, "caller.xml", map[string]string{"PAUSE_MS": "200", "DIGIT": "1", "TALK": "20000"},
		"-i", callerIP, "-p", "5092", "-mi", callerIP, "-mp", "6110", "-m", "1", "-s", "88001234567",
		"-key", "caller", "89123456789", "-timeout", "60s", "-timeout_error", fmt.Sprintf("127.0.0.1:%d", sw.Addr().Port()))
	var leg sip.Leg
	select {
	case leg = <-sw.Incoming():
	case <-time.After(30 * time.Second):
		t.Fatalf("no inbound call; SIPp: %s", caller.Output())
	}
	ctx := context.Background()
	info := leg.Info()
	callID := "e2e-" + info.ID
	from := ivr.NormalizeCaller(info.From, "RU")
	now := func() time.Time { return time.Now().UTC() }
	bus.Publish(eventlog.Event{ID: "e1", Type: eventlog.CallArrived, CallID: callID, Caller: from.ID(), At: now()})
	if err := leg.Answer(ctx); err != nil {
		t.Fatal(err)
	}
	bus.Publish(eventlog.Event{ID: "e2", Type: eventlog.QueueJoined, CallID: callID, Queue: "support", At: now()})
	bus.Publish(eventlog.Event{ID: "e3", Type: eventlog.QueueAnswered, CallID: callID, Queue: "support", Agent: "a1", Caller: from.ID(), At: now()})
	if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: "hotline/survey-thanks"}}}); err != nil {
		t.Fatal(err)
	}
	leg.Hangup(sip.CauseNormal)
	bus.Publish(eventlog.Event{ID: "e4", Type: eventlog.CallCompleted, CallID: callID, Queue: "support", Agent: "a1", At: now()})
	bus.Publish(eventlog.Event{ID: "e5", Type: eventlog.CallFinished, CallID: callID, Queue: "support", Reason: "answered", At: now()})
	bus.Publish(eventlog.Event{ID: "e6", Type: eventlog.CallEnded, CallID: callID, Reason: "normal", At: now()})
	caller.Wait(t, "caller", 2*time.Minute)

	done := ev.waitFor(t, eventlog.SurveyCompleted, callID)
	customer.Wait(t, "customer", 2*time.Minute)
	if done.Data["rating"] != "4" || done.Data["solved"] != "yes" || done.Agent != "a1" {
		t.Fatalf("survey result %+v", done)
	}
	var state string
	var rating int
	var solved, number string
	db.Pool.QueryRow(ctx, `SELECT state, rating, solved, number FROM survey WHERE call_id = $1`, callID).Scan(&state, &rating, &solved, &number)
	if state != "completed" || rating != 4 || solved != "yes" || number != "+79123456789" {
		t.Fatalf("stored %s %d %s %s", state, rating, solved, sip.MaskNumber(number))
	}
	// Reporting's collectors reflect it: CSI 75 (rating 4), survey FCR 1.
	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range mf {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if m.Gauge != nil {
				got[key] = m.GetGauge().GetValue()
			}
			if m.Counter != nil {
				got[key] = m.GetCounter().GetValue()
			}
		}
	}
	if got["hotline_csi_score,line=first"] != 75 || got["hotline_fcr_ratio,line=first,source=survey"] != 1 ||
		got["hotline_survey_calls_total,result=completed"] != 1 {
		t.Fatalf("reporting metrics: %v", got)
	}
}

func TestEndToEndBusyCustomerFails(t *testing.T) {
	needPeers(t)
	sw, _ := startNative(t, busyIP+":5090", 37300)
	ev := newCollector()
	s, db := startService(t, demoConfig(), sw, ev)
	busy := runSIPp(t, "customer-busy.xml", nil, "-i", busyIP, "-p", "5090", "-m", "3", "-timeout", "90s", "-timeout_error")
	answeredCall(s, "e2e-busy", "+79123456788", "sales", "a1")
	failed := ev.waitFor(t, eventlog.SurveyFailed, "e2e-busy")
	busy.Wait(t, "busy customer", 2*time.Minute)
	var reasons []string
	for _, a := range ev.of(eventlog.SurveyAttempt, "e2e-busy") {
		reasons = append(reasons, a.Reason)
	}
	if strings.Join(reasons, ",") != "busy,busy,busy" || failed.Reason != "busy" {
		t.Fatalf("attempts %v, failed %+v", reasons, failed)
	}
	var state string
	db.Pool.QueryRow(context.Background(), `SELECT state FROM survey WHERE call_id = 'e2e-busy'`).Scan(&state)
	if state != "failed" {
		t.Fatalf("state %s", state)
	}
}
