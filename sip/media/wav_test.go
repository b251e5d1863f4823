package media

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wavImage builds a WAV file image with the given format fields.
func wavImage(format, channels uint16, rate uint32, bits uint16, data []byte) []byte {
	var b []byte
	le16 := func(v uint16) { b = binary.LittleEndian.AppendUint16(b, v) }
	le32 := func(v uint32) { b = binary.LittleEndian.AppendUint32(b, v) }
	b = append(b, "RIFF"...)
	le32(uint32(4 + 8 + 16 + 8 + len(data)))
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	le32(16)
	le16(format)
	le16(channels)
	le32(rate)
	le32(rate * uint32(channels) * uint32(bits) / 8)
	le16(channels * bits / 8)
	le16(bits)
	b = append(b, "LIST"...) // an odd-sized chunk to skip, with its pad byte
	le32(3)
	b = append(b, 'a', 'b', 'c', 0)
	b = append(b, "data"...)
	le32(uint32(len(data)))
	b = append(b, data...)
	return b
}

func TestLoadWAVSystemFiles(t *testing.T) {
	var files []string
	for _, g := range []string{"/usr/share/asterisk/sounds/ru/*.wav", "/usr/share/asterisk/sounds/ru/digits/*.wav", "/usr/share/asterisk/moh/*.wav"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("asterisk-core-sounds-ru-wav / asterisk-moh-opsound-wav not installed")
	}
	for _, f := range files {
		s, err := LoadWAV(f)
		if err != nil {
			t.Errorf("LoadWAV: %v", err)
			continue
		}
		fi, _ := os.Stat(f)
		if int64(len(s.PCM))*2+44 > fi.Size() { // ru/is.wav is legitimately empty
			t.Errorf("%s: %d samples from %d bytes", f, len(s.PCM), fi.Size())
		}
	}
	t.Logf("loaded %d system WAV files", len(files))
}

func TestLoadWAV(t *testing.T) {
	dir := t.TempDir()
	pcm := []byte{1, 0, 0xFF, 0xFF, 0x00, 0x80} // 1, -1, -32768
	good := wavImage(1, 1, 8000, 16, pcm)
	ext := wavImage(wavFormatExtensible, 1, 8000, 16, pcm)
	// A data chunk claiming 2 GiB: its size is negative as a 32-bit int.
	huge := slices.Clone(good)
	binary.LittleEndian.PutUint32(huge[len(huge)-len(pcm)-4:], 1<<31)
	// A writer that never finished its header (Asterisk's wav while it
	// records): data size 0, the samples follow.
	open := slices.Clone(good)
	binary.LittleEndian.PutUint32(open[len(open)-len(pcm)-4:], 0)
	tests := []struct {
		name    string
		data    []byte
		wantErr string // substring; empty means success
	}{
		{"good", good, ""},
		{"data size not written", open, ""},
		{"stereo", wavImage(1, 2, 8000, 16, pcm[:4]), "2 channels, want mono"},
		{"16kHz", wavImage(1, 1, 16000, 16, pcm), "sample rate 16000 Hz"},
		{"8bit", wavImage(1, 1, 8000, 8, pcm), "8 bits per sample"},
		{"alaw", wavImage(6, 1, 8000, 8, pcm), "encoding is A-law"},
		{"float", wavImage(3, 1, 8000, 32, pcm[:4]), "encoding is IEEE float"},
		{"truncated data", good[:len(good)-3], "truncated"},
		{"truncated header", good[:20], "truncated"},
		{"not riff", []byte("ID3\x03 this is an mp3 file"), "not a RIFF/WAVE file"},
		{"empty", nil, "truncated"},
		{"odd data", wavImage(1, 1, 8000, 16, pcm[:3]), "odd number of bytes"},
		{"chunk size of 2 GiB", huge, "says 2147483648 bytes, only 6 present"},
		{"extensible header too short", ext, ""}, // 16-byte fmt with tag 0xFFFE: not PCM
	}
	tests[len(tests)-1].wantErr = "format tag 0xfffe"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".wav")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := LoadWAV(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("LoadWAV: %v", err)
				}
				if want := []int16{1, -1, -32768}; !equalInt16(s.PCM, want) {
					t.Fatalf("PCM = %v, want %v", s.PCM, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("LoadWAV accepted a bad file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q should name %s and say %q", err, path, tt.wantErr)
			}
		})
	}
}

// TestLoadWAVSoxFiles has sox write files in formats we must refuse.
func TestLoadWAVSoxFiles(t *testing.T) {
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not installed")
	}
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ok", []string{"-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}, ""},
		{"44k", []string{"-r", "44100", "-c", "1", "-b", "16", "-e", "signed-integer"}, "sample rate 44100"},
		{"stereo", []string{"-r", "8000", "-c", "2", "-b", "16", "-e", "signed-integer"}, "2 channels"},
		{"u8", []string{"-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer"}, "8 bits"},
		{"ulaw", []string{"-r", "8000", "-c", "1", "-e", "u-law"}, "µ-law"},
		{"gsm", []string{"-r", "8000", "-c", "1", "-e", "gsm-full-rate"}, "GSM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".wav")
			args := append([]string{"-n"}, tt.args...)
			args = append(args, path, "synth", "0.1", "sine", "440")
			if out, err := exec.Command(sox, args...).CombinedOutput(); err != nil {
				t.Skipf("sox cannot write this format: %v: %s", err, out)
			}
			s, err := LoadWAV(path)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(s.PCM) != 800 {
					t.Fatalf("%d samples, want 800", len(s.PCM))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v should name %s and say %q", err, path, tt.wantErr)
			}
		})
	}
}

func equalInt16(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
