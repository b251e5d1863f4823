package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/audiotest"
	"github.com/hotline-cc/hotline/internal/firefoxtest"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/sip/media"
	"github.com/hotline-cc/hotline/sip/siptest"
)

// TestSoftphoneInFirefox is TestSoftphoneInChromium's call in headless
// Firefox (Debian's firefox-esr, over WebDriver BiDi): hotline as `serve`
// runs it, a caller on the trunk (siptest.Phone sending 600 Hz), and the
// agent's page in Firefox whose fake microphone plays Firefox's own tone
// (media.navigator.audio.fake_frequency, 1000 Hz). The page registers over
// SIP over WebSocket, rings, the agent answers in the page, and the audio
// is checked both ways by frequency: the caller hears 1000 Hz and not its
// own tone (internal/audiotest on its RTP), the page hears 600 Hz (its
// WebAudio analyser); the keypad's 5 reaches the caller as RFC 4733; the
// agent hangs up in the page and the caller gets hotline's BYE. Loopback
// 127.0.21.30-31.
func TestSoftphoneInFirefox(t *testing.T) {
	sipptest.NeedTools(t, "firefox-esr")
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	yml := strings.NewReplacer("SIPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)),
		"HTTPPORT", strconv.Itoa(sipptest.FreeUDPAndTCPPort(t)), "ROOT", root).Replace(softphoneConfig)
	yml = strings.NewReplacer("127.0.1.10", "127.0.21.30", "127.0.1.11", "127.0.21.31", "38600-38699", "42200-42299").Replace(yml)
	srv := startTestServe(t, "softphone-firefox.yaml", yml)
	sipAddr, base := srv.SIPAddr().String(), srv.api

	ff := firefoxtest.Start(t, firefoxtest.FakeMedia)
	p := ff.NewPage(t, "s1")
	p.Navigate(base + "/desk/")
	p.WaitFor("the login form", `!document.querySelector('#login-form').hidden`)
	p.Do("log in", `document.querySelector('#login-user').value = 's1';
		document.querySelector('#login-password').value = 'web-s1'; document.querySelector('#login-submit').click()`)
	p.WaitFor("the softphone registered", `document.querySelector('#softphone').dataset.state === 'registered'`)
	p.Do("log in to the queues", `document.querySelector('#btn-login').click()`)
	p.WaitFor("logged in to the queues", `document.querySelector('#state').dataset.state !== 'logged-out'`)
	p.Do("ready", `document.querySelector('#btn-ready').click()`)
	p.WaitFor("ready", `document.querySelector('#state').dataset.state === 'available'`)

	heard := audiotest.NewCapture()
	eng, err := media.NewEngine(media.EngineConfig{IP: netip.MustParseAddr("127.0.21.31"), PortMin: 42300, PortMax: 42399})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close() })
	caller, err := siptest.NewPhone(siptest.PhoneConfig{IP: "127.0.21.31", User: "79161234567", Media: eng,
		Voice: siptest.Tone(callerHz, time.Second), OnAudio: heard.Add, QuietSIP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(caller.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	call, err := caller.Call(ctx, siptest.CallOptions{Addr: sipAddr, To: "88001234567"})
	if err != nil {
		t.Fatalf("the call: %v", err)
	}

	p.WaitFor("the page ringing", `document.querySelector('#softphone').dataset.state === 'ringing' &&
		!document.querySelector('#sp-answer').hidden`)
	p.Do("answer", `document.querySelector('#sp-answer').click()`)
	p.WaitFor("in call", `document.querySelector('#softphone').dataset.state === 'incall'`)
	p.WaitFor("the agent's state on-call", `document.querySelector('#state').dataset.state === 'on-call'`)
	p.WaitFor("the caller's 600 Hz in the page", fmt.Sprintf(`(() => {
		const hz = Number(document.querySelector('#softphone').dataset.peerHz || 0);
		return Math.abs(hz - %g) <= 25;
	})()`, callerHz))
	mic := float64(firefoxtest.FakeMediaHz)
	hears(t, heard, "Firefox's fake microphone (1000 Hz) at the caller", 8000, func(s []int16) bool {
		return audiotest.Power(s, 8000, mic) > 0.5 && audiotest.Power(s, 8000, callerHz) < 0.1
	})

	p.Do("the keypad's 5", `document.querySelector('#sp-keypad [data-digit="5"]').click()`)
	select {
	case d := <-call.Digits():
		if d != '5' {
			t.Errorf("the caller got digit %q, want 5", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("the keypad's 5 did not reach the caller")
	}

	p.Do("hang up", `document.querySelector('#sp-hangup').click()`)
	select {
	case <-call.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the caller's call did not end after the agent hung up in the page")
	}
	if !call.RemoteHangup() {
		t.Error("the caller's call did not end with hotline's BYE")
	}
	p.WaitFor("the softphone back to registered", `document.querySelector('#softphone').dataset.state === 'registered'`)
}
