package server_test

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/pgtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// Loopback addresses 127.0.3.10-12, .16 and .17 are the recording tests':
// hotline, the caller (the trunk), the agent's phone, second line's and
// the customer called back (the trunk's address).
const recConfig = `
service: {name: hotline-rec}
sip:
  listen: "127.0.3.10:SIPPORT"
  digest_algorithms: [MD5]
  trunks:
    - {name: provider, allow: ["127.0.3.11"], address: "127.0.3.17:CUSTPORT", caller_id: "88001234567"}
  numbers: {"*": support}
media:
  rtp_ports: "46000-46199"
  prompts: {ru: [ROOT/prompts/generated/ru, /usr/share/asterisk/sounds/ru], en: [ROOT/prompts/generated/en, /usr/share/asterisk/sounds/en]}
  moh: {default: /usr/share/asterisk/moh}
http: {listen: "127.0.3.10:HTTPPORT", token: admin-token}
database: {url: "DBURL", spool_dir: SPOOL}
agents:
  - {id: r1, password: pw-r1, team: red, skills: {general: 1}, wrapup: 1s, web_password: web-r1}
  - {id: r2, password: pw-r2, team: blue, skills: {other: 1}}
  - {id: r3, password: pw-r3, team: red, line: 2, skills: {expert: 1}, wrapup: 1s}
queues:
  - name: support
    skill: general
    ring_timeout: 10s
    announce: {every: 0s}
    callback: {enabled: true, key: "1", hours: {from: "00:00", to: "23:59"}}
  - {name: expert, line: 2, skill: expert, ring_timeout: 10s, announce: {every: 0s}}
escalation: {queue: expert, number: "*77", reasons: [technical]}
recording: {dir: RECDIR, mode: all, callbacks: true}
web:
  bcrypt_cost: 4
  users:
    - {id: svred, role: supervisor, teams: [red], password: web-svred}
    - {id: svblue, role: supervisor, teams: [blue], password: web-svblue}
ivr:
  default_queue: support
  flows:
    support:
      nodes:
        queue: {type: queue, queue: support}
`

const (
	callerTone = 440.0
	agentTone  = 1300.0
)

type recEnv struct {
	srv      *testServe
	db       *pgtest.DB
	sip      string
	caller   *siptest.Phone
	agent    *siptest.Phone
	customer *siptest.Phone // answers the trunk's dials (callbacks), sending customerTone
}

const customerTone = 700.0

func tonePhone(t *testing.T, ip, user, password string, freq float64) *siptest.Phone {
	t.Helper()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr(ip), PortMin: 46200, PortMax: 46299})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	p, err := siptest.NewPhone(siptest.PhoneConfig{IP: ip, User: user, Password: password, Media: eng,
		AnswerDelay: 300 * time.Millisecond, Voice: siptest.Tone(freq, time.Second), QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// startRecEnv runs serve with recording into dir, a logged-in agent r1
// whose phone sends agentTone, and a caller phone that sends callerTone.
func startRecEnv(t *testing.T, dir string) *recEnv {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	if _, err := os.Stat(filepath.Join(root, "prompts", "generated", "ru", "hotline", "recording-notice.wav")); err != nil {
		t.Fatalf("generated prompts missing: run make prompts (%v)", err)
	}
	db := pgtest.New(t)
	customer := tonePhone(t, "127.0.3.17", "customer", "", customerTone)
	yml := strings.NewReplacer("ROOT", root, "DBURL", db.DSN, "SPOOL", t.TempDir(), "RECDIR", dir,
		"CUSTPORT", strconv.Itoa(int(customer.Addr().Port())),
		"SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t))).Replace(recConfig)
	srv := startTestServe(t, "rec.yaml", yml)
	e := &recEnv{srv: srv, db: db, sip: srv.SIPAddr().String(), customer: customer,
		caller: tonePhone(t, "127.0.3.11", "79161234567", "", callerTone),
		agent:  tonePhone(t, "127.0.3.12", "r1", "pw-r1", agentTone)}
	if err := e.agent.Register(ctxTimeout(t, 10*time.Second), e.sip, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if code, body := adminDo(t, srv.api, http.MethodPost, "/api/v1/agents/r1/login", "", nil); code/100 != 2 {
		t.Fatalf("login r1: %d %s", code, body)
	}
	return e
}

// call places a call that the agent answers and returns both ends.
func (e *recEnv) call(t *testing.T) (caller, agent *siptest.Call) {
	t.Helper()
	caller, err := e.caller.Call(ctxTimeout(t, 20*time.Second), siptest.CallOptions{Addr: e.sip, To: "88001234567", From: "79161234567"})
	if err != nil {
		t.Fatal(err)
	}
	return caller, nextIncoming(t, e.agent)
}

// event waits for an event of type typ in the stored log and returns its
// call id, reason and data.
func (e *recEnv) event(t *testing.T, typ string) (callID, reason string, data map[string]string) {
	t.Helper()
	waitUntil(t, typ+" in the event log", func() bool {
		err := e.db.Pool.QueryRow(context.Background(), `SELECT call_id, reason, coalesce(data, '{}') FROM events WHERE type = $1 ORDER BY seq LIMIT 1`,
			typ).Scan(&callID, &reason, &data)
		return err == nil
	})
	return callID, reason, data
}

// TestRecordingCall is a recorded call with real peers: a caller phone
// sending 440 Hz and an agent's phone sending 1300 Hz through serve. The
// WAV has the caller's tone on the left, the agent's on the right, lasts
// the bridged time (call.completed's talk) within 40 ms; an agent and a
// supervisor of another team get 403, the team's supervisor hears it (an
// audit event), the admin token downloads it.
func TestRecordingCall(t *testing.T) {
	dir := t.TempDir()
	e := startRecEnv(t, dir)
	caller, agent := e.call(t)
	// Talk until the agent has heard three seconds of the caller.
	for start := agent.Received(); agent.Received() < start+150; {
		time.Sleep(50 * time.Millisecond)
	}
	if err := caller.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the agent's leg to end", agent.Done())
	callID, _, started := e.event(t, "recording.started")
	_, _, stopped := e.event(t, "recording.stopped")
	_, _, completed := e.event(t, "call.completed")
	talk, _ := strconv.Atoi(completed["talk_ms"])
	recMS, _ := strconv.Atoi(stopped["duration_ms"])

	path := filepath.Join(dir, started["file"])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" || binary.LittleEndian.Uint16(b[22:]) != 2 ||
		binary.LittleEndian.Uint32(b[24:]) != 8000 || binary.LittleEndian.Uint16(b[34:]) != 16 {
		t.Fatalf("not a stereo 8 kHz 16-bit WAV: % x", b[:44])
	}
	if n := binary.LittleEndian.Uint32(b[40:]); int(n) != len(b)-44 {
		t.Fatalf("data chunk says %d bytes, file has %d", n, len(b)-44)
	}
	var left, right []int16
	for i := 44; i+3 < len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	dur := time.Duration(len(left)) * time.Second / 8000
	t.Logf("recording %v (event %d ms), bridged %d ms, %d bytes", dur, recMS, talk, len(b))
	if diff := dur - time.Duration(talk)*time.Millisecond; diff < -40*time.Millisecond || diff > 40*time.Millisecond {
		t.Errorf("recording lasts %v, the call was bridged %d ms (off by %v, allowed 40 ms)", dur, talk, diff)
	}
	if dur < 2*time.Second {
		t.Fatalf("recording too short to check: %v", dur)
	}
	// Every 200 ms window away from the edges: the caller left, the agent right.
	for at := 200 * time.Millisecond; at+400*time.Millisecond <= dur; at += 200 * time.Millisecond {
		i := int(at * 8000 / time.Second)
		if got := audiotest.Present(left[i:i+1600], 8000, 0.1, callerTone, agentTone); len(got) != 1 || got[0] != callerTone {
			t.Errorf("left channel at %v: tones %v, want the caller's %v Hz only", at, got, callerTone)
		}
		if got := audiotest.Present(right[i:i+1600], 8000, 0.1, callerTone, agentTone); len(got) != 1 || got[0] != agentTone {
			t.Errorf("right channel at %v: tones %v, want the agent's %v Hz only", at, got, agentTone)
		}
	}
	var rowAgent, sum string
	var size int64
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT agent, size_bytes, sha256 FROM recordings WHERE call_id = $1 AND state = 'done'`,
		callID).Scan(&rowAgent, &size, &sum); err != nil {
		t.Fatal(err)
	}
	if rowAgent != "r1" || size != int64(len(b)) || sum != stopped["sha256"] || len(sum) != 64 {
		t.Errorf("row: agent %q size %d sha %q; file %d bytes, event sha %q", rowAgent, size, sum, len(b), stopped["sha256"])
	}

	// Access.
	base := e.srv.api
	get := func(hc *http.Client, hdr map[string]string, q string) (int, string, int) {
		req, _ := http.NewRequest(http.MethodGet, base+"/desk/api/calls/"+callID+"/recording"+q, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), len(body)
	}
	login := func(user, pw string) *http.Client {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar}
		resp, err := hc.Post(base+"/desk/login", "application/json", strings.NewReader(`{"user":"`+user+`","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("login %s: %s", user, resp.Status)
		}
		return hc
	}
	for _, tc := range []struct {
		who  string
		hc   *http.Client
		hdr  map[string]string
		q    string
		want int
	}{
		{"logged out", http.DefaultClient, nil, "", http.StatusUnauthorized},
		{"the agent", login("r1", "web-r1"), nil, "", http.StatusForbidden},
		{"a supervisor of another team", login("svblue", "web-svblue"), nil, "", http.StatusForbidden},
		{"the team's supervisor", login("svred", "web-svred"), nil, "", http.StatusOK},
		{"the admin token, download", http.DefaultClient, map[string]string{"Authorization": "Bearer admin-token"}, "?download=1", http.StatusOK},
	} {
		code, ct, n := get(tc.hc, tc.hdr, tc.q)
		if code != tc.want {
			t.Errorf("%s: %d, want %d", tc.who, code, tc.want)
		}
		if code == http.StatusOK && (ct != "audio/wav" || n != len(b)) {
			t.Errorf("%s: %s of %d bytes, want audio/wav of %d", tc.who, ct, n, len(b))
		}
	}
	waitUntil(t, "the audit events", func() bool {
		var plays, downloads int
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE reason = 'recording.play' AND data->>'actor' = 'svred'),
			count(*) FILTER (WHERE reason = 'recording.download' AND data->>'actor' = 'api-token')
			FROM events WHERE type = 'desk.action' AND call_id = $1`, callID).Scan(&plays, &downloads)
		return plays == 1 && downloads == 1
	})
}

// TestRecordingDiskFull: the recording directory is a 64 KB tmpfs (two
// seconds of stereo audio); the disk fills during the call, which goes
// on: the failure is a recording.failed event and a metric, the partial
// file is removed and the row says failed.
func TestRecordingDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs for a full disk needs root (run the test as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	e := startRecEnv(t, dir)
	caller, agent := e.call(t)
	callID, reason, data := e.event(t, "recording.failed")
	if reason != "write" || !strings.Contains(data["error"], "no space") {
		t.Errorf("recording.failed: reason %q, error %q; want write, no space left", reason, data["error"])
	}
	// The call goes on: both phones keep hearing each other.
	c0, a0 := caller.Received(), agent.Received()
	waitUntil(t, "audio after the failure", func() bool { return caller.Received() > c0+100 && agent.Received() > a0+100 })
	select {
	case <-caller.Done():
		t.Fatal("the call ended with the recording")
	default:
	}
	if err := caller.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitChan(t, "the agent's leg to end", agent.Done())
	e.event(t, "call.completed")
	waitUntil(t, "the failed row", func() bool {
		var state string
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT state FROM recordings WHERE call_id = $1`, callID).Scan(&state)
		return state == "failed"
	})
	if got := metric(t, e.srv.api, `hotline_recordings_failed_total{stage="write"}`); got != 1 {
		t.Errorf("hotline_recordings_failed_total{stage=\"write\"} = %v, want 1", got)
	}
	var files []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("partial files left: %v", files)
	}
}

// TestRecordingEscalated: an escalated call keeps one recording; the
// first segment is first line's (r1, 1300 Hz on the right), the second
// second line's (r3, 1800 Hz), the caller (440 Hz) on the left throughout.
func TestRecordingEscalated(t *testing.T) {
	const secondTone = 1800.0
	dir := t.TempDir()
	e := startRecEnv(t, dir)
	second := tonePhone(t, "127.0.3.16", "r3", "pw-r3", secondTone)
	if err := second.Register(ctxTimeout(t, 10*time.Second), e.sip, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if code, body := adminDo(t, e.srv.api, http.MethodPost, "/api/v1/agents/r3/login", "", nil); code/100 != 2 {
		t.Fatalf("login r3: %d %s", code, body)
	}
	caller, first := e.call(t)
	callID, _, started := e.event(t, "recording.started")
	for start := first.Received(); first.Received() < start+100; {
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := adminDo(t, e.srv.api, http.MethodPost, "/api/v1/calls/"+callID+"/escalate",
		`{"queue":"expert","reason":"technical","notes":"router"}`, nil); code/100 != 2 {
		t.Fatalf("escalate: %d %s", code, body)
	}
	expert := nextIncoming(t, second)
	for start := expert.Received(); expert.Received() < start+100; {
		time.Sleep(50 * time.Millisecond)
	}
	if err := caller.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	e.event(t, "recording.stopped")
	var segs []struct {
		Start, End time.Duration
		Line       int
		Agent      string
	}
	var agents []string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT segments, agents FROM recordings WHERE call_id = $1 AND state = 'done'`,
		callID).Scan(&segs, &agents); err != nil {
		t.Fatal(err)
	}
	t.Logf("segments %+v, agents %v", segs, agents)
	if len(segs) != 2 || segs[0].Line != 1 || segs[0].Agent != "r1" || segs[1].Line != 2 || segs[1].Agent != "r3" ||
		len(agents) != 2 || agents[0] != "r1" || agents[1] != "r3" {
		t.Fatalf("segments %+v agents %v: want r1 on line 1, then r3 on line 2", segs, agents)
	}
	b, err := os.ReadFile(filepath.Join(dir, started["file"]))
	if err != nil {
		t.Fatal(err)
	}
	var left, right []int16
	for i := 44; i+3 < len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	if dur := time.Duration(len(left)) * time.Second / 8000; dur != segs[1].End.Truncate(time.Second/8000) {
		t.Errorf("file lasts %v, the last segment ends at %v", dur, segs[1].End)
	}
	for i, seg := range segs {
		want := []float64{agentTone, secondTone}[i]
		for at := seg.Start + 200*time.Millisecond; at+400*time.Millisecond <= seg.End; at += 200 * time.Millisecond {
			k := int(at * 8000 / time.Second)
			if got := audiotest.Present(left[k:k+1600], 8000, 0.1, callerTone, agentTone, secondTone); len(got) != 1 || got[0] != callerTone {
				t.Errorf("segment %d, left at %v: %v, want the caller's %v Hz", i+1, at, got, callerTone)
			}
			if got := audiotest.Present(right[k:k+1600], 8000, 0.1, callerTone, agentTone, secondTone); len(got) != 1 || got[0] != want {
				t.Errorf("segment %d, right at %v: %v, want %v Hz", i+1, at, got, want)
			}
		}
	}
}

// TestRecordingCallback: with recording.callbacks, a callback is recorded
// under its queue's policy: the caller asks for one (key 1) while nobody
// is logged in, then r1 logs in, rings first, and the customer is dialled
// through the trunk; the WAV has the customer (700 Hz) on the left and the
// agent on the right. The first call itself, never bridged, keeps nothing.
func TestRecordingCallback(t *testing.T) {
	dir := t.TempDir()
	e := startRecEnv(t, dir)
	if code, body := adminDo(t, e.srv.api, http.MethodPost, "/api/v1/agents/r1/logout", "", nil); code/100 != 2 {
		t.Fatalf("logout r1: %d %s", code, body)
	}
	caller, err := e.caller.Call(ctxTimeout(t, 20*time.Second), siptest.CallOptions{Addr: e.sip, To: "88001234567", From: "79161234567"})
	if err != nil {
		t.Fatal(err)
	}
	e.event(t, "queue.joined")
	if err := caller.SendDTMF(ctxTimeout(t, 5*time.Second), "1"); err != nil {
		t.Fatal(err)
	}
	e.event(t, "callback.requested")
	waitChan(t, "hotline to hang up after the callback confirmation", caller.Done())
	if code, body := adminDo(t, e.srv.api, http.MethodPost, "/api/v1/agents/r1/login", "", nil); code/100 != 2 {
		t.Fatalf("login r1: %d %s", code, body)
	}
	nextIncoming(t, e.agent)
	customer := nextIncoming(t, e.customer)
	// The customer hears the notice, then the agent: three seconds after
	// the callback's recording started.
	waitUntil(t, "the callback's recording to start", func() bool {
		var n int
		_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE type = 'recording.started'`).Scan(&n)
		return n == 2
	})
	for start := customer.Received(); customer.Received() < start+150; {
		time.Sleep(50 * time.Millisecond)
	}
	if err := customer.Hangup(ctxTimeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	var callID, file string
	waitUntil(t, "the callback's recording", func() bool {
		return e.db.Pool.QueryRow(context.Background(), `SELECT call_id, data->>'file' FROM events
			WHERE type = 'recording.stopped' AND reason <> 'not-bridged' ORDER BY seq LIMIT 1`).Scan(&callID, &file) == nil
	})
	var notBridged int
	_ = e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE type = 'recording.stopped' AND reason = 'not-bridged' AND call_id = $1`,
		callID).Scan(&notBridged)
	if notBridged != 1 {
		t.Errorf("the first call (never bridged): %d not-bridged stops, want 1", notBridged)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	var left, right []int16
	for i := 44; i+3 < len(b); i += 4 {
		left = append(left, int16(binary.LittleEndian.Uint16(b[i:])))
		right = append(right, int16(binary.LittleEndian.Uint16(b[i+2:])))
	}
	dur := time.Duration(len(left)) * time.Second / 8000
	if dur < 2*time.Second {
		t.Fatalf("recording too short: %v", dur)
	}
	for at := 200 * time.Millisecond; at+400*time.Millisecond <= dur; at += 200 * time.Millisecond {
		k := int(at * 8000 / time.Second)
		if got := audiotest.Present(left[k:k+1600], 8000, 0.1, customerTone, agentTone); len(got) != 1 || got[0] != customerTone {
			t.Errorf("left at %v: %v, want the customer's %v Hz", at, got, customerTone)
		}
		if got := audiotest.Present(right[k:k+1600], 8000, 0.1, customerTone, agentTone); len(got) != 1 || got[0] != agentTone {
			t.Errorf("right at %v: %v, want the agent's %v Hz", at, got, agentTone)
		}
	}
}
