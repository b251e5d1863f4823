package sip_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

// Handling what the peer does out of band. Call logic ranges over
// Leg.Events until the channel closes (after the leg ends) and switches on
// the event's type; the switch lists every event type sip defines, so a
// new one shows up in the default branch instead of being lost. A
// TransferEvent must be answered exactly once with Reply.
func ExampleEvent() {
	// In an application: events := leg.Events(). Here, a channel filled by
	// hand with what a switch might deliver during a call.
	at := time.Date(2025, 3, 3, 10, 0, 0, 0, time.UTC)
	ch := make(chan sip.Event, 4)
	ch <- sip.DigitEvent{Digit: '*', At: at}
	ch <- sip.HoldEvent{Hold: true, At: at.Add(5 * time.Second)}
	ch <- sip.HoldEvent{Hold: false, At: at.Add(35 * time.Second)}
	ch <- sip.TransferEvent{Target: "2001", At: at.Add(40 * time.Second), Reply: func(accepted bool) {
		fmt.Println("  transfer accepted:", accepted)
	}}
	close(ch)
	var events <-chan sip.Event = ch

	for ev := range events {
		switch ev := ev.(type) {
		case sip.DigitEvent:
			// Every digit, also while bridged: feature codes such as "*".
			fmt.Printf("digit %c at %s\n", ev.Digit, ev.At.Format("15:04:05"))
		case sip.HoldEvent:
			if ev.Hold {
				fmt.Println("peer put the call on hold")
			} else {
				fmt.Println("peer resumed the call")
			}
		case sip.TransferEvent:
			fmt.Println("peer asks to transfer to", ev.Target)
			// Accept only internal extensions; take over the call first,
			// then reply true.
			ev.Reply(len(ev.Target) == 4)
		default:
			fmt.Printf("unhandled event %T\n", ev)
		}
	}
	// Output:
	// digit * at 10:00:00
	// peer put the call on hold
	// peer resumed the call
	// peer asks to transfer to 2001
	//   transfer accepted: true
}

// Deciding what to do after Switch.Dial failed: CauseOf reads the Cause of
// a *DialError anywhere in the error chain (wrapped or not); a cancelled
// context is CauseCancelled, anything else CauseFailure. errors.As gives
// the SIP status when there was one.
func ExampleCauseOf() {
	busy := fmt.Errorf("offer call c1: %w", &sip.DialError{
		Target: sip.Target{Agent: "a1"},
		Cause:  sip.CauseBusy,
		Status: 486,
	})
	for _, err := range []error{
		busy,
		&sip.DialError{Target: sip.Target{Number: "+79123456789"}, Cause: sip.CauseNoAnswer},
		context.Canceled,
		errors.New("transport closed"),
	} {
		fmt.Printf("%-13s %v\n", sip.CauseOf(err), err)
	}

	var de *sip.DialError
	if errors.As(busy, &de) {
		fmt.Println("SIP status:", de.Status, "target:", de.Target)
	}
	// Output:
	// busy          offer call c1: dial agent:a1: busy (SIP 486)
	// no-answer     dial number:+79123456789: no-answer
	// cancelled     context canceled
	// failure       transport closed
	// SIP status: 486 target: agent:a1
}

// Whom Switch.Dial calls: a registered agent (all its phones ring) or a
// number through a trunk, with what the callee sees. String is the form
// used in logs and errors.
func ExampleTarget() {
	agent := sip.Target{
		Agent:       "a1",
		RingTimeout: 15 * time.Second,
		Headers:     map[string]string{"X-Queue": "first-line"},
	}
	callback := sip.Target{
		Number:     "+79123456789",
		Trunk:      "main",
		CallerID:   "+74950000000",
		CallerName: "Hotline",
	}
	fmt.Println(agent)
	fmt.Println(callback)
	// Output:
	// agent:a1
	// number:+79123456789
}

// What Leg.Play plays: named sounds of a language's prompt set (Russian
// unless Lang says otherwise) and silences, in order. With StopOnDigit a
// caller can press a menu key during the announcement (barge-in).
func ExamplePrompt() {
	opts := sip.PlayOptions{
		Prompts: []sip.Prompt{
			{Name: "hotline/greeting"},
			{Silence: 500 * time.Millisecond},
			{Name: "queue-thereare", Lang: "en"},
			{Name: "digits/5", Lang: "en"},
		},
		StopOnDigit: true,
	}
	// In an application: digit, err := leg.Play(ctx, opts)
	for _, p := range opts.Prompts {
		fmt.Println(p)
	}
	// Output:
	// ru/hotline/greeting
	// silence:500ms
	// en/queue-thereare
	// en/digits/5
}

// Logging a leg: CallInfo says who called whom and how; MaskNumber keeps
// phone numbers out of logs but leaves agent users and names readable.
func ExampleCallInfo() {
	info := sip.CallInfo{
		ID:        "c-42",
		Direction: sip.Inbound,
		From:      "+79123456789",
		To:        "88005553535",
		Trunk:     "main",
		Codec:     "PCMA",
	}
	fmt.Printf("%s %s call from %s to %s over trunk %s (%s)\n", info.ID, info.Direction,
		sip.MaskNumber(info.From), sip.MaskNumber(info.To), info.Trunk, info.Codec)
	// Output:
	// c-42 inbound call from +7******6789 to *******3535 over trunk main (PCMA)
}

// MaskNumber keeps a phone number's country-code digit and its last four;
// short numbers are masked whole, agent users and names stay readable.
func ExampleMaskNumber() {
	for _, s := range []string{"+79123456789", "89123456789", "1234", "a1", "anonymous"} {
		fmt.Printf("%-12s → %s\n", s, sip.MaskNumber(s))
	}
	// Output:
	// +79123456789 → +7******6789
	// 89123456789  → *******6789
	// 1234         → ****
	// a1           → a1
	// anonymous    → anonymous
}

// Recording how a leg ended, from Leg.Ended once Leg.Done is closed. A
// detached leg (Asterisk mode, hotline stopping) is still up outside this
// process, so no outcome is recorded for it.
func ExampleEnd() {
	at := time.Date(2025, 3, 3, 10, 4, 0, 0, time.UTC)
	describe := func(end sip.End) string {
		if end.Detached {
			return "detached: the call goes on, a restarted hotline resumes it"
		}
		return fmt.Sprintf("%s side ended it: %s at %s", end.Side, end.Cause, end.At.Format("15:04:05"))
	}
	fmt.Println(describe(sip.End{Cause: sip.CauseNormal, Side: sip.SideRemote, At: at}))
	fmt.Println(describe(sip.End{Cause: sip.CauseMediaTimeout, Side: sip.SideLocal, At: at}))
	fmt.Println(describe(sip.End{Cause: sip.CauseShutdown, Side: sip.SideLocal, At: at, Detached: true}))
	// Output:
	// remote side ended it: normal at 10:04:00
	// local side ended it: media-timeout at 10:04:00
	// detached: the call goes on, a restarted hotline resumes it
}

// For Switch implementations: a DigitBuffer keeps the digits a leg
// received until call logic reads them. Digits typed ahead count, Peek
// serves barge-in without consuming, and Read stops at Max digits, at the
// terminator (not returned) or at a timeout.
func ExampleDigitBuffer() {
	buf := sip.NewDigitBuffer()
	for _, d := range "12#9" {
		buf.Push(d) // as the media path receives them
	}
	first, _ := buf.Peek()
	fmt.Printf("barge-in digit: %c\n", first)

	ended := make(chan struct{}) // closed when the leg ends (Leg.Done)
	got, err := buf.Read(context.Background(), sip.DigitOptions{Max: 4, Terminator: '#'}, ended)
	fmt.Printf("%q %v\n", got, err)
	got, err = buf.Read(context.Background(), sip.DigitOptions{Max: 1}, ended)
	fmt.Printf("%q %v\n", got, err)

	close(ended)
	got, err = buf.Read(context.Background(), sip.DigitOptions{Max: 1}, ended)
	fmt.Printf("%q %v\n", got, err)
	// Output:
	// barge-in digit: 1
	// "12" <nil>
	// "9" <nil>
	// "" sip: leg has hung up
}
