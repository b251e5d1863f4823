// Package firefoxtest drives headless Firefox (Debian's firefox-esr) from
// tests over WebDriver BiDi, the W3C protocol Firefox serves on
// --remote-debugging-port (there is no chromedp for Firefox). It is a
// small client: new user contexts (cookie jars), tabs, navigation and
// script evaluation, which is all the desk's page tests need.
package firefoxtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// FakeMediaHz is the frequency of the tone Firefox's fake microphone
// plays (FakeMedia sets it; Firefox's own default is 1000 Hz too).
const FakeMediaHz = 1000

// FakeMedia are the prefs for a page that calls: getUserMedia gets
// Firefox's fake devices without asking (the microphone a FakeMediaHz
// sine), ICE may use loopback and shows host addresses as they are (not
// mDNS names, which a server cannot resolve), and audio plays without a
// gesture.
var FakeMedia = map[string]any{
	"media.navigator.streams.fake":                      true,
	"media.navigator.permission.disabled":               true,
	"media.navigator.audio.fake_frequency":              FakeMediaHz,
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"media.autoplay.default":                            0,
	"media.autoplay.blocking_policy":                    0,
	"media.autoplay.block-webaudio":                     false,
	"media.cubeb.force_mock_context":                    true,
}

// Browser is one headless Firefox with a BiDi session.
type Browser struct {
	t    *testing.T
	conn net.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	next int
	wait map[int]chan reply
	done chan struct{}
}

type reply struct {
	Type    string          `json:"type"`
	ID      int             `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
}

var listening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// Start launches firefox-esr headless with a fresh profile and opens a BiDi
// session; both end at the test's cleanup. It fails the test when
// firefox-esr is missing (scripts/install-deps.sh test installs it).
// Prefs are added to the profile's user.js (name → bool, int or string),
// e.g. FakeMedia.
func Start(t *testing.T, prefs ...map[string]any) *Browser {
	t.Helper()
	path, err := exec.LookPath("firefox-esr")
	if err != nil {
		t.Fatal("firefox-esr is not installed: run scripts/install-deps.sh test")
	}
	profile := t.TempDir()
	// No first-run pages, updates or telemetry; Russian first, as an agent's.
	userJS := `user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("app.update.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.enabled", false);
user_pref("intl.accept_languages", "ru,en");
`
	for _, m := range prefs {
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			v, err := json.Marshal(m[k])
			if err != nil {
				t.Fatalf("pref %s: %v", k, err)
			}
			userJS += fmt.Sprintf("user_pref(%q, %s);\n", k, v)
		}
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(userJS), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its content processes are ended with it
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting firefox-esr: %v", err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	})
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	var url string
	select {
	case url = <-urlc:
	case <-exited:
		t.Fatal("firefox-esr exited before listening for WebDriver BiDi")
	case <-time.After(60 * time.Second):
		t.Fatal("firefox-esr did not announce its WebDriver BiDi address in 60 s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, url+"/session")
	if err != nil {
		t.Fatalf("WebDriver BiDi %s: %v", url, err)
	}
	b := &Browser{t: t, conn: conn, wait: map[int]chan reply{}, done: make(chan struct{})}
	go b.read()
	t.Cleanup(func() { conn.Close() })
	if _, err := b.Call("session.new", map[string]any{"capabilities": map[string]any{}}); err != nil {
		t.Fatalf("session.new: %v", err)
	}
	return b
}

func (b *Browser) read() {
	defer close(b.done)
	for {
		msg, err := wsutil.ReadServerText(b.conn)
		if err != nil {
			return
		}
		var r reply
		if json.Unmarshal(msg, &r) != nil || r.Type == "event" {
			continue
		}
		b.mu.Lock()
		c := b.wait[r.ID]
		delete(b.wait, r.ID)
		b.mu.Unlock()
		if c != nil {
			c <- r
		}
	}
}

// Call sends a BiDi command and returns its result.
func (b *Browser) Call(method string, params any) (json.RawMessage, error) {
	b.mu.Lock()
	b.next++
	id := b.next
	c := make(chan reply, 1)
	b.wait[id] = c
	b.mu.Unlock()
	msg, _ := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	b.wmu.Lock()
	err := wsutil.WriteClientText(b.conn, msg)
	b.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case r := <-c:
		if r.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, r.Error, r.Message)
		}
		return r.Result, nil
	case <-b.done:
		return nil, errors.New(method + ": the WebDriver BiDi connection closed")
	case <-time.After(60 * time.Second):
		return nil, errors.New(method + ": no answer in 60 s")
	}
}

// Page is a tab in a user context of its own (its own cookies, as another
// machine's browser).
type Page struct {
	b       *Browser
	t       *testing.T
	Name    string
	context string
}

// NewPage opens a tab in a new user context.
func (b *Browser) NewPage(t *testing.T, name string) *Page {
	t.Helper()
	res, err := b.Call("browser.createUserContext", map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	var uc struct {
		UserContext string `json:"userContext"`
	}
	_ = json.Unmarshal(res, &uc)
	res, err = b.Call("browsingContext.create", map[string]any{"type": "tab", "userContext": uc.UserContext})
	if err != nil {
		t.Fatal(err)
	}
	var bc struct {
		Context string `json:"context"`
	}
	_ = json.Unmarshal(res, &bc)
	return &Page{b: b, t: t, Name: name, context: bc.Context}
}

// Navigate loads url and waits until the document is complete.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	if _, err := p.b.Call("browsingContext.navigate", map[string]any{"context": p.context, "url": url, "wait": "complete"}); err != nil {
		p.t.Fatalf("%s: navigate %s: %v", p.Name, url, err)
	}
}

// Eval evaluates a JavaScript expression (awaiting a promise) and returns
// its value as JSON-decoded Go (bool, string, float64, nil).
func (p *Page) Eval(expr string) (any, error) {
	res, err := p.b.Call("script.evaluate", map[string]any{"expression": expr, "target": map[string]any{"context": p.context},
		"awaitPromise": true})
	if err != nil {
		return nil, err
	}
	var r struct {
		Type             string `json:"type"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(res, &r); err != nil {
		return nil, err
	}
	if r.Type == "exception" {
		return nil, fmt.Errorf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	return r.Result.Value, nil
}

// Do evaluates expr and fails the test on an exception.
func (p *Page) Do(what, expr string) {
	p.t.Helper()
	if _, err := p.Eval(expr); err != nil {
		p.t.Fatalf("%s's page: %s: %v", p.Name, what, err)
	}
}

// WaitFor polls the expression every 100 ms until it is true (at most 90 s).
func (p *Page) WaitFor(what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		v, err := p.Eval(expr)
		if err != nil {
			p.t.Fatalf("%s's page: %s: %v", p.Name, what, err)
		}
		if v == true {
			return
		}
		if time.Now().After(deadline) {
			text, _ := p.Eval(`document.body.innerText`)
			p.t.Fatalf("%s's page: timed out waiting for %s (page: %v)", p.Name, what, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Text evaluates expr to a string.
func (p *Page) Text(what, expr string) string {
	p.t.Helper()
	v, err := p.Eval(expr)
	if err != nil {
		p.t.Fatalf("%s's page: %s: %v", p.Name, what, err)
	}
	s, _ := v.(string)
	return s
}
