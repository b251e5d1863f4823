// Package siptest is the contract test suite that every sip.Switch
// implementation runs, and the small SIP test phone it uses to place and
// answer real calls (sipgo for signalling, sip/media for RTP).
//
// An implementation describes itself with a Harness and calls Run:
//
//	func TestContract(t *testing.T) {
//		siptest.Run(t, siptest.Harness{Switch: sw, Trunk: ..., Registrar: ..., Agents: ...})
//	}
//
// Every contract case is a subtest named after a Case constant, so one case
// runs with -run 'TestContract/dial-busy'. A Harness can switch off what a
// switch cannot do (Caps) and mark cases as known to fail (Known), which
// skips them with the reason.
package siptest

import (
	"log/slog"
	"time"

	"github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/sip/media"
)

// Harness is what differs between switches under test.
type Harness struct {
	// Switch is the switch under test, started.
	Switch sip.Switch

	// Trunk says how test calls reach the switch and how the switch's
	// outbound calls through its trunk reach the suite.
	Trunk TrunkSide

	// Registrar is host:port where agents REGISTER (and send requests).
	Registrar string
	// Agents are SIP users the switch knows, with their passwords. The
	// suite needs at least two; they must be free (not registered by
	// anyone else) while it runs.
	Agents []Agent
	// UnknownAgent is an agent user that is never registered (default
	// "siptest-nobody").
	UnknownAgent string

	// PhoneIPs are local addresses for the suite's agent phones, at least
	// three, distinct from Trunk.IP (loopback addresses in tests).
	PhoneIPs []string
	// RTPPorts is the port range for the test phones' RTP (on every phone
	// IP); default 40000-40999.
	RTPPorts [2]int

	// Prompt is a prompt the switch can play, longer than 3 s, and
	// PromptPackets how many 20 ms packets it makes (see WAVPackets).
	Prompt        sip.Prompt
	PromptPackets int
	// ShortPrompt is another playable prompt, shorter.
	ShortPrompt sip.Prompt
	// MOHClass is a music-on-hold class the switch knows.
	MOHClass string

	// Caps says which optional capabilities the switch has.
	Caps Caps
	// Known lists cases known to fail on this switch, with the reason
	// (a bug reference); they are skipped.
	Known map[Case]string

	// RingTimeout bounds ringing in the dial cases; default 10 s.
	RingTimeout time.Duration
	// Logger receives the test phones' SIP logs; default: discarded.
	Logger *slog.Logger
}

// TrunkSide describes the switch's trunk as the suite sees it.
type TrunkSide struct {
	// Addr is host:port of the SIP endpoint that takes trunk calls.
	Addr string
	// IP and Port are where the suite's trunk phone lives: the source the
	// switch trusts as the trunk, and where the switch's outbound calls to
	// numbers arrive. Port 0 picks a free port (then outbound calls to
	// numbers cannot be tested: set Caps.NoDialNumber).
	IP   string
	Port int
	// Name is the trunk name the switch reports in CallInfo.Trunk; empty
	// skips that check.
	Name string
	// Called is the number test calls dial (e.g. "88001234567").
	Called string
}

// Agent is a SIP user the switch authenticates.
type Agent struct {
	User, Password string
}

// Caps are optional capabilities; the zero value means a full native
// switch.
type Caps struct {
	// InfoDTMF: SIP INFO digits (application/dtmf-relay) reach the leg.
	InfoDTMF bool
	// NoFork: the switch rings only one contact of an agent.
	NoFork bool
	// NoDialNumber: the switch cannot call numbers through a trunk to
	// the suite's trunk phone.
	NoDialNumber bool
	// NoUnknownMOH: StartMOH with an unknown class is not an error.
	NoUnknownMOH bool
}

// Case names a contract case (the subtest name).
type Case string

// The contract cases, in the order Run runs them.
const (
	CaseInbound          Case = "inbound"
	CaseAnswer           Case = "answer"
	CasePlay             Case = "play"
	CasePlayBargeIn      Case = "play-barge-in"
	CaseReadDigits       Case = "read-digits"
	CaseMOH              Case = "moh"
	CaseHangupLocal      Case = "hangup-local"
	CaseHangupRemote     Case = "hangup-remote"
	CaseCallerCancel     Case = "caller-cancel"
	CaseDialAgent        Case = "dial-agent"
	CaseDialNumber       Case = "dial-number"
	CaseDialUnregistered Case = "dial-unregistered"
	CaseDialBusy         Case = "dial-busy"
	CaseDialNoAnswer     Case = "dial-no-answer"
	CaseDialCancel       Case = "dial-cancel"
	CaseBridge           Case = "bridge"
	CaseTransfer         Case = "transfer"
	CaseInfoDTMF         Case = "info-dtmf"
	CaseFork             Case = "fork"
)

// WAVPackets is the number of 20 ms packets a WAV prompt file is sent as.
func WAVPackets(path string) (int, error) {
	s, err := media.LoadWAV(path)
	if err != nil {
		return 0, err
	}
	return s.Packets(), nil
}
