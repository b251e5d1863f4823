package server

import (
	"errors"
	"strings"
	"testing"
)

func TestRedactDSNError(t *testing.T) {
	for _, tc := range []struct{ dsn, msg string }{
		{"postgres://hotline:s3cret@db:5432/h", `connect to postgres://hotline:s3cret@db:5432/h failed`},
		{"postgres://hotline:s3cret@db/h", `password s3cret rejected`},
	} {
		got := RedactDSNError(errors.New(tc.msg), tc.dsn).Error()
		if strings.Contains(got, "s3cret") || !strings.Contains(got, "***") {
			t.Errorf("RedactDSNError(%q) = %q", tc.msg, got)
		}
	}
	if got := RedactDSNError(errors.New("no password here"), "postgres://db/h").Error(); got != "no password here" {
		t.Errorf("without a password the message changed: %q", got)
	}
}
