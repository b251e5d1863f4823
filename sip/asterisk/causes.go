package asterisk

import (
	"strings"

	"github.com/hotline-cc/hotline/sip"
)

// Q.850 cause codes Asterisk reports in ChannelDestroyed and
// ChannelHangupRequest.
const (
	q850Unallocated      = 1
	q850NoRoute          = 3
	q850Normal           = 16
	q850Busy             = 17
	q850NoUserResponse   = 18
	q850NoAnswer         = 19
	q850SubscriberAbsent = 20
	q850Rejected         = 21
	q850OutOfOrder       = 27
	q850Unspecified      = 31
	q850Congestion       = 34
	q850NetworkDown      = 38
	q850TempFailure      = 41
	q850Incompatible     = 88
	q850Interworking     = 127
)

// causeFromQ850 maps an Asterisk hang-up cause to the contract's.
func causeFromQ850(code int) sip.Cause {
	switch code {
	case 0, q850Normal, q850Unspecified:
		return sip.CauseNormal
	case q850Busy:
		return sip.CauseBusy
	case q850NoUserResponse, q850NoAnswer:
		return sip.CauseNoAnswer
	case q850Rejected:
		return sip.CauseRejected
	case q850Unallocated, q850NoRoute, q850SubscriberAbsent, q850OutOfOrder,
		q850Congestion, q850NetworkDown, q850TempFailure:
		return sip.CauseUnreachable
	case q850Incompatible, q850Interworking:
		return sip.CauseFailure
	}
	if code > 0 && code < 16 {
		return sip.CauseUnreachable // the numbering/routing class
	}
	return sip.CauseFailure
}

// causeFromDialStatus maps the DIALSTATUS of a Dial event; ok is false for
// statuses that are not final (RINGING, PROGRESS, ANSWER, empty).
func causeFromDialStatus(s string) (sip.Cause, bool) {
	switch strings.ToUpper(s) {
	case "BUSY":
		return sip.CauseBusy, true
	case "NOANSWER":
		return sip.CauseNoAnswer, true
	case "CHANUNAVAIL", "CONGESTION", "INVALIDARGS":
		return sip.CauseUnreachable, true
	case "CANCEL":
		return sip.CauseCancelled, true
	}
	return 0, false
}

// hangupReason is the reason ARI's DELETE /channels/{id} takes for a
// cause. For a channel not yet answered PJSIP turns it into the SIP answer
// the caller gets; measured on Asterisk 22 (TestRealHangupStatus): busy →
// 486, no_answer → 480, rejected → 403, unallocated → 404, congestion →
// 503, failure → 500, normal_unspecified → 480. "normal" (cause 16) has no
// SIP status in PJSIP and comes out as 603 Decline, so an unanswered
// channel ended normally is sent normal_unspecified: 480, as the native
// switch answers.
func hangupReason(c sip.Cause, answered bool) string {
	switch c {
	case sip.CauseBusy:
		return "busy"
	case sip.CauseNoAnswer:
		return "no_answer"
	case sip.CauseRejected:
		return "rejected"
	case sip.CauseUnreachable:
		return "unallocated"
	case sip.CauseShutdown:
		return "congestion"
	case sip.CauseFailure, sip.CauseMediaTimeout:
		return "failure"
	}
	if !answered {
		return "normal_unspecified"
	}
	return "normal"
}
