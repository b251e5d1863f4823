package dialpolicy_test

import (
	"context"
	"fmt"

	"github.com/hotline-cc/hotline/dialpolicy"
)

// A consumer (the survey, queue callbacks) defines the interface it needs
// and asks before every dial; a *dialpolicy.Policy satisfies it.
type DialGate interface {
	Permit(ctx context.Context, r dialpolicy.Request) error
}

func Example() {
	policy, err := dialpolicy.New(dialpolicy.Config{DailyCap: 500, PerNumber: 2}, dialpolicy.Deps{})
	if err != nil {
		panic(err)
	}
	var gate DialGate = policy
	ctx := context.Background()
	for _, number := range []string{"+79141234567", "+78091234567", "+19005551234"} {
		// Number and Trunk come from the call.arrived event of the
		// customer's inbound call, never from an API parameter.
		err := gate.Permit(ctx, dialpolicy.Request{
			Purpose: dialpolicy.PurposeCallback, Number: number, CallID: "call-1", Trunk: "provider",
		})
		if ref, ok := dialpolicy.AsRefusal(err); ok {
			fmt.Println(number, "refused:", ref.Reason, ref.Rule, "permanent:", ref.Reason.Permanent())
			continue
		}
		if err != nil {
			fmt.Println("ledger down, do not dial:", err)
			continue
		}
		fmt.Println(number, "may be dialled")
	}
	// Output:
	// +79141234567 may be dialled
	// +78091234567 refused: denied +7809 permanent: true
	// +19005551234 refused: denied +1900 permanent: true
}
