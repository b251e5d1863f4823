package native

import (
	"reflect"
	"testing"
)

// A registration's Path survives the store (joined, split) and its top
// entry gives the next hop of the INVITE to the phone.
func TestPathRoundTripAndHop(t *testing.T) {
	for _, tc := range []struct {
		path []string
		hop  string
	}{
		{[]string{"<sip:192.0.2.10:5070;lr;received=sip:198.51.100.7:5062>"}, "192.0.2.10:5070"},
		{[]string{"<sip:proxy.example;lr>", "<sip:192.0.2.11:5080;lr>"}, "proxy.example:5060"},
	} {
		exp := exportBindings("b1", []binding{{Path: tc.path}})
		if got := splitPath(exp[0].Path); !reflect.DeepEqual(got, tc.path) {
			t.Errorf("path %v stored as %q, read back as %v", tc.path, exp[0].Path, got)
		}
		if hop, ok := pathHop(tc.path[0]); !ok || hop != tc.hop {
			t.Errorf("hop of %q = %q, %v; want %q", tc.path[0], hop, ok, tc.hop)
		}
	}
	if got := splitPath(""); got != nil {
		t.Errorf("no path read back as %v", got)
	}
	if _, ok := pathHop("not a uri"); ok {
		t.Error("a malformed Path value gave a hop")
	}
}
