package ivr

import "testing"

func TestNormalizeCaller(t *testing.T) {
	tests := []struct {
		raw  string
		want string // E.164 or "anonymous"
		why  string
	}{
		{"89123456789", "+79123456789", ""},
		{"8 (912) 345-67-89", "+79123456789", ""},
		{"8-912-345-67-89", "+79123456789", ""},
		{"+79123456789", "+79123456789", ""},
		{"+7 912 345 67 89", "+79123456789", ""},
		{"+7(912)345.67.89", "+79123456789", ""},
		{"79123456789", "+79123456789", ""},
		{"9123456789", "+79123456789", ""},
		{"84951234567", "+74951234567", ""},
		{"+7 (495) 123-45-67", "+74951234567", ""},
		{"8 800 555-35-35", "+78005553535", ""},
		{"sip:+79123456789@trunk.example;user=phone", "+79123456789", ""},
		{"tel:89123456789", "+79123456789", ""},
		{"<sip:89123456789@10.0.0.1>", "+79123456789", ""},
		{"+44 20 7946 0958", "+442079460958", ""},
		{"", "anonymous", "empty"},
		{"   ", "anonymous", "empty"},
		{"anonymous", "anonymous", "withheld"},
		{"Anonymous", "anonymous", "withheld"},
		{"sip:anonymous@anonymous.invalid", "anonymous", "withheld"},
		{"unknown", "anonymous", "withheld"},
		{"withheld", "anonymous", "withheld"},
		{"Restricted", "anonymous", "withheld"},
		{"private", "anonymous", "withheld"},
		{"unavailable", "anonymous", "withheld"},
		{"123", "anonymous", "invalid"},
		{"+7912345678", "anonymous", "invalid"},
		{"abc", "anonymous", "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			c := NormalizeCaller(tt.raw, "")
			if c.ID() != tt.want || c.Why != tt.why || c.Raw != tt.raw {
				t.Fatalf("NormalizeCaller(%q) = %+v (ID %q), want %q why %q", tt.raw, c, c.ID(), tt.want, tt.why)
			}
			if c.Anonymous != (tt.want == Anonymous) {
				t.Fatalf("Anonymous = %v", c.Anonymous)
			}
		})
	}
}
