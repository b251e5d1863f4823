package config

import (
	"strings"
	"testing"
)

func TestAsteriskMode(t *testing.T) {
	base := "sip:\n  mode: %MODE%\n  trunks:\n    - name: p\n      allow: [\"127.0.0.2\"]\n%TRUNK%%AST%"
	const noAllow = "    - name: q\n" // a second trunk without an allowlist
	for _, tc := range []struct {
		name, mode, trunk, ast, wantErr string
	}{
		{"native by default", "native", "", "", ""},
		{"asterisk with ARI", "asterisk", "", "asterisk:\n  url: http://127.0.0.1:8088/ari\n  username: hotline\n  password: x\n  trunks: {p: \"PJSIP/%s@provider\"}\n", ""},
		{"asterisk without url", "asterisk", "", "asterisk:\n  username: hotline\n", "asterisk.url: required when sip.mode is asterisk"},
		{"bad url", "asterisk", "", "asterisk:\n  url: ftp://x\n  username: u\n", "asterisk.url: want an http(s) URL"},
		{"trunk dial string without %s", "asterisk", "", "asterisk:\n  url: http://a/ari\n  username: u\n  trunks: {p: \"PJSIP/provider\"}\n", `trunk "p": dial string must contain %s`},
		// Asterisk admits trunk calls itself (pjsip.conf identify).
		{"asterisk trunk without allow", "asterisk", noAllow, "asterisk:\n  url: http://a/ari\n  username: u\n  trunks: {q: \"PJSIP/%s@q\"}\n", ""},
		{"dial string for an unknown trunk", "asterisk", "", "asterisk:\n  url: http://a/ari\n  username: u\n  trunks: {x: \"PJSIP/%s@x\"}\n", `asterisk.trunks: trunk "x" is not in sip.trunks`},
		{"native trunk without allow", "native", noAllow, "", "sip.trunks[1].allow: at least one source address or CIDR is required"},
		{"asterisk agent without password", "asterisk", "", "asterisk:\n  url: http://a/ari\n  username: u\nagents:\n  - {id: a1, skills: {general: 1}}\n", ""},
		{"native agent without password", "native", "", "agents:\n  - {id: a1, skills: {general: 1}}\n", "agents[0].password: is required"},
		{"unknown mode", "freeswitch", "", "", `t.yaml:2: sip.mode: unknown mode "freeswitch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.NewReplacer("%MODE%", tc.mode, "%TRUNK%", tc.trunk, "%AST%", tc.ast).Replace(base)
			c, err := Parse("t.yaml", []byte(y))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			case tc.wantErr == "" && c.Redacted().Asterisk.Password != "" && c.Redacted().Asterisk.Password.Value() == "x":
				t.Fatal("Redacted kept the ARI password")
			}
		})
	}
}
