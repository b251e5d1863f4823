package media

import (
	"encoding/binary"
	"fmt"
	"os"
)

// WAV format tags.
const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xFFFE
)

// LoadWAV reads an 8 kHz 16-bit mono PCM WAV file. Any other format is an
// error that names the file and what is wrong with it.
func LoadWAV(path string) (*Sound, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("media: load WAV: %w", err)
	}
	pcm, err := ParseWAV(b)
	if err != nil {
		return nil, fmt.Errorf("media: WAV %s: %w", path, err)
	}
	return &Sound{Name: path, PCM: pcm}, nil
}

// ParseWAV decodes a RIFF/WAVE image holding 8 kHz 16-bit mono PCM (a
// prompt, or a recording Asterisk wrote in its "wav" format). A data chunk
// whose size is 0 with samples after it is one whose writer never finished
// the header: the samples to the end are its data.
func ParseWAV(b []byte) ([]int16, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("truncated: %d bytes is too short for a RIFF header", len(b))
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, fmt.Errorf("not a RIFF/WAVE file (starts with %q)", b[:min(12, len(b))])
	}
	var (
		haveFmt bool
		data    []byte
	)
	for off := 12; ; {
		if off == len(b) || (off+1 == len(b) && b[off] == 0) {
			break
		}
		if off+8 > len(b) {
			return nil, fmt.Errorf("truncated: chunk header at byte %d cut off", off)
		}
		id := string(b[off : off+4])
		// Compare sizes as uint64: on 32-bit platforms (linux/arm) int of a
		// size of 2 GiB or more is negative, passed the check and panicked
		// slicing (FuzzParseWAV seed huge-data-size).
		size32 := binary.LittleEndian.Uint32(b[off+4:])
		body := b[off+8:]
		if uint64(size32) > uint64(len(body)) {
			return nil, fmt.Errorf("truncated: %q chunk at byte %d says %d bytes, only %d present", id, off, size32, len(body))
		}
		size := int(size32) // fits: at most len(body)
		if id == "data" && size == 0 {
			size = len(body) &^ 1
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if err := checkWAVFormat(body); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("data chunk before fmt chunk")
			}
			data = body
		}
		if data != nil {
			break // trailing chunks (LIST, ...) do not matter
		}
		off += 8 + size + size&1 // chunks are padded to even sizes
	}
	switch {
	case !haveFmt:
		return nil, fmt.Errorf("no fmt chunk")
	case data == nil:
		return nil, fmt.Errorf("no data chunk")
	case len(data)%2 != 0:
		return nil, fmt.Errorf("truncated: data chunk has an odd number of bytes (%d) for 16-bit samples", len(data))
	}
	pcm := make([]int16, len(data)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
	}
	return pcm, nil
}

func checkWAVFormat(f []byte) error {
	if len(f) < 16 {
		return fmt.Errorf("fmt chunk too short (%d bytes)", len(f))
	}
	format := binary.LittleEndian.Uint16(f[0:])
	channels := binary.LittleEndian.Uint16(f[2:])
	rate := binary.LittleEndian.Uint32(f[4:])
	bits := binary.LittleEndian.Uint16(f[14:])
	if format == wavFormatExtensible && len(f) >= 26 {
		format = binary.LittleEndian.Uint16(f[24:]) // first two bytes of the sub-format GUID
	}
	var problems []string
	if format != wavFormatPCM {
		problems = append(problems, fmt.Sprintf("encoding is %s, want linear PCM", wavFormatName(format)))
	}
	if channels != 1 {
		problems = append(problems, fmt.Sprintf("%d channels, want mono", channels))
	}
	if rate != 8000 {
		problems = append(problems, fmt.Sprintf("sample rate %d Hz, want 8000 Hz", rate))
	}
	if bits != 16 {
		problems = append(problems, fmt.Sprintf("%d bits per sample, want 16", bits))
	}
	if len(problems) > 0 {
		msg := "unsupported format: "
		for i, p := range problems {
			if i > 0 {
				msg += ", "
			}
			msg += p
		}
		return fmt.Errorf("%s (convert with: sox IN -r 8000 -c 1 -b 16 -e signed-integer OUT.wav)", msg)
	}
	return nil
}

func wavFormatName(tag uint16) string {
	switch tag {
	case 3:
		return "IEEE float"
	case 6:
		return "A-law"
	case 7:
		return "µ-law"
	case 0x11:
		return "IMA ADPCM"
	case 0x31:
		return "GSM 6.10"
	case 0x55:
		return "MP3"
	}
	return fmt.Sprintf("format tag %#04x", tag)
}
