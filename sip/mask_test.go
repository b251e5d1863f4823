package sip

import "testing"

func TestMaskNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+79123456789", "+7******6789"},
		{"89123456789", "*******6789"},
		{"a1", "a1"},
		{"anonymous", "anonymous"},
		{"1234", "****"},
		{"7000", "****"},
		{"", ""},
	} {
		if got := MaskNumber(tc.in); got != tc.want {
			t.Errorf("MaskNumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
