package media

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestG711ReferenceValues(t *testing.T) {
	// Encodings per ITU-T G.191 g711.c; the decodes agree with sox.
	tests := []struct {
		name   string
		sample int16
		ulaw   byte
		alaw   byte
	}{
		{"zero", 0, 0xFF, 0xD5},
		{"minus one", -1, 0x7F, 0x55},
		{"max", 32767, 0x80, 0xAA},
		{"min", -32768, 0x00, 0x2A},
		{"1000", 1000, 0xCE, 0xFA},
		{"-1000", -1000, 0x4E, 0x7A},
		{"100", 100, 0xF2, 0xD3},
		{"-4", -4, 0x7F, 0x55},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EncodeUlaw(tt.sample); got != tt.ulaw {
				t.Errorf("EncodeUlaw(%d) = %#02x, want %#02x", tt.sample, got, tt.ulaw)
			}
			if got := EncodeAlaw(tt.sample); got != tt.alaw {
				t.Errorf("EncodeAlaw(%d) = %#02x, want %#02x", tt.sample, got, tt.alaw)
			}
		})
	}
	decodes := []struct {
		code       byte
		ulaw, alaw int16
	}{
		{0xFF, 0, 848},
		{0x7F, 0, -848},
		{0x80, 32124, 5504},
		{0x00, -32124, -5504},
		{0xD5, 716, 8},
		{0x55, -716, -8},
		{0xAA, 5372, 32256},
		{0x2A, -5372, -32256},
	}
	for _, d := range decodes {
		if got := DecodeUlaw(d.code); got != d.ulaw {
			t.Errorf("DecodeUlaw(%#02x) = %d, want %d", d.code, got, d.ulaw)
		}
		if got := DecodeAlaw(d.code); got != d.alaw {
			t.Errorf("DecodeAlaw(%#02x) = %d, want %d", d.code, got, d.alaw)
		}
	}
}

// TestG711RoundTrip checks the quantisation error bound of both laws over
// every 16-bit sample, and that re-encoding a decoded value is stable.
func TestG711RoundTrip(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		t.Run(c.Name, func(t *testing.T) {
			for i := -32768; i <= 32767; i++ {
				s := int16(i)
				enc := c.Encode(nil, []int16{s})
				dec := c.Decode(nil, enc)[0]
				if err := absDiff(int(s), int(dec)); err > g711MaxError(int(s)) {
					t.Fatalf("sample %d → %#02x → %d: error %d too large", s, enc[0], dec, err)
				}
				if again := c.Encode(nil, []int16{dec}); again[0] != enc[0] {
					// −0 and +0 µ-law both decode to 0, which encodes to 0xFF.
					if !(c == PCMU && dec == 0) {
						t.Fatalf("re-encode of %d: %#02x, want %#02x", dec, again[0], enc[0])
					}
				}
			}
		})
	}
}

// TestG711Transcode checks the direct µ-law↔A-law tables against
// decode-then-encode.
func TestG711Transcode(t *testing.T) {
	for i := range 256 {
		b := byte(i)
		if got, want := UlawToAlaw(b), EncodeAlaw(DecodeUlaw(b)); got != want {
			t.Fatalf("UlawToAlaw(%#02x) = %#02x, want %#02x", b, got, want)
		}
		if got, want := AlawToUlaw(b), EncodeUlaw(DecodeAlaw(b)); got != want {
			t.Fatalf("AlawToUlaw(%#02x) = %#02x, want %#02x", b, got, want)
		}
	}
}

// TestG711AgainstSox compares our decoder with sox's on every code, and our
// encoder on every non-negative sample that is a multiple of the law's step
// (sox rounds to 14/13 bits where G.191 truncates, and codes negative values
// from the two's complement), when sox is installed.
func TestG711AgainstSox(t *testing.T) {
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not installed")
	}
	dir := t.TempDir()
	var lin bytes.Buffer
	for i := -32768; i <= 32767; i++ {
		_ = binary.Write(&lin, binary.LittleEndian, int16(i))
	}
	in := filepath.Join(dir, "all.s16")
	if err := os.WriteFile(in, lin.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var codes []byte
	for i := range 256 {
		codes = append(codes, byte(i))
	}
	codesFile := filepath.Join(dir, "codes.raw")
	if err := os.WriteFile(codesFile, codes, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		codec Codec
		enc   string
	}{{PCMU, "u-law"}, {PCMA, "a-law"}} {
		t.Run(tt.codec.Name, func(t *testing.T) {
			out := filepath.Join(dir, tt.enc+".raw")
			cmd := exec.Command(sox, "-D", "-t", "raw", "-r", "8000", "-e", "signed", "-b", "16", "-c", "1", "-L", in,
				"-t", "raw", "-e", tt.enc, "-b", "8", out)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sox: %v: %s", err, b)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got := tt.codec.Encode(nil, int16Range())
			step := 4
			if tt.codec == PCMA {
				step = 8
			}
			for s := 0; s <= 32767; s += step {
				if i := s + 32768; got[i] != want[i] {
					t.Fatalf("encode %d: got %#02x, sox %#02x", s, got[i], want[i])
				}
			}
			dec := filepath.Join(dir, tt.enc+".s16")
			cmd = exec.Command(sox, "-D", "-t", "raw", "-r", "8000", "-e", tt.enc, "-b", "8", "-c", "1", codesFile,
				"-t", "raw", "-e", "signed", "-b", "16", "-L", dec)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sox: %v: %s", err, b)
			}
			raw, err := os.ReadFile(dec)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 256 {
				soxv := int16(binary.LittleEndian.Uint16(raw[2*i:]))
				if got := tt.codec.Decode(nil, []byte{byte(i)})[0]; got != soxv {
					t.Errorf("decode %#02x: got %d, sox %d", i, got, soxv)
				}
			}
		})
	}
}

func int16Range() []int16 {
	s := make([]int16, 0, 65536)
	for i := -32768; i <= 32767; i++ {
		s = append(s, int16(i))
	}
	return s
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}

// g711MaxError is a bound on the quantisation error of either law for a
// sample of magnitude |s|: half a step of the segment, steps doubling per
// segment, plus the clipping at the top of the µ-law range.
func g711MaxError(s int) int {
	if s < 0 {
		s = -s
	}
	switch {
	case s < 64:
		return 16
	case s >= 32124:
		return 1024
	default:
		return s/16 + 8
	}
}
