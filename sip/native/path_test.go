package native

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"
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

// TestRegisterOKEchoesPath: the 200 to a REGISTER carries the request's
// Path values in their order (RFC 3327 §5.3), one header or several; a
// REGISTER without Path gets none.
func TestRegisterOKEchoesPath(t *testing.T) {
	phone := netip.MustParseAddrPort("192.0.2.10:5060")
	for _, tc := range []struct {
		name    string
		headers []string
		want    []string
	}{
		{"none", nil, nil},
		{"one proxy", []string{"<sip:192.0.2.1:5070;lr;received=sip:192.0.2.10:5060>"},
			[]string{"<sip:192.0.2.1:5070;lr;received=sip:192.0.2.10:5060>"}},
		{"two proxies, two headers", []string{"<sip:edge.example;lr>", "<sip:core.example;lr>"},
			[]string{"<sip:edge.example;lr>", "<sip:core.example;lr>"}},
		{"two proxies, one header", []string{"<sip:edge.example;lr>, <sip:core.example;lr>"},
			[]string{"<sip:edge.example;lr>, <sip:core.example;lr>"}},
	} {
		r := newRegistrar(time.Minute, time.Hour, func() time.Time { return t0 })
		req := registerReq("a1", "192.0.2.10:5060", 1, "300")
		for _, h := range tc.headers {
			req.AppendHeader(gosip.NewHeader("Path", h))
		}
		res := r.register("a1", req, phone, true)
		if res.status != 200 {
			t.Fatalf("%s: status %d", tc.name, res.status)
		}
		out := registerOK(req, res.contacts, t0)
		var got []string
		for _, h := range out.GetHeaders("Path") {
			got = append(got, h.Value())
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: the 200's Path = %q, want %q", tc.name, got, tc.want)
		}
		if n := len(out.GetHeaders("Contact")); n != 1 {
			t.Errorf("%s: the 200 has %d contacts, want 1", tc.name, n)
		}
		// The binding keeps the path, split into hops, top first.
		if len(tc.headers) > 0 && len(res.contacts[0].Path) == 0 {
			t.Errorf("%s: the binding kept no path", tc.name)
		}
	}
}
