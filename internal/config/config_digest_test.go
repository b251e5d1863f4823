package config

import (
	"strings"
	"testing"
)

func TestDigestAlgorithms(t *testing.T) {
	base := "sip:\n  trunks:\n    - name: p\n      allow: [\"127.0.0.2\"]\n  digest_algorithms: %s\n"
	for _, tc := range []struct{ list, wantErr string }{
		{"[MD5]", ""},
		{"[SHA-256, MD5]", ""},
		{"[SHA-1]", `t.yaml:5: sip.digest_algorithms[0]: unknown digest algorithm "SHA-1"`},
		{"[MD5, MD5]", "t.yaml:5: sip.digest_algorithms[1]: MD5 listed twice"},
	} {
		_, err := Parse("t.yaml", []byte(strings.Replace(base, "%s", tc.list, 1)))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.list, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want %q", tc.list, err, tc.wantErr)
		}
	}
}
