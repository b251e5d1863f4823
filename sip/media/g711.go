package media

// G.711 µ-law and A-law after the ITU-T G.191 reference implementation
// (g711.c of the Software Tool Library): negative samples are quantised by
// their one's complement, so x and ^x encode to the same magnitude. Sun's
// g711.c uses the two's complement for µ-law and sox rounds instead of
// truncating; all decode identically. Encoding is a table
// lookup on the top 14 (µ-law) or 13 (A-law) bits of the sample; decoding is
// a 256-entry table; µ-law↔A-law conversion for the relay is a direct
// 256-entry table. The tables are computed once at package initialisation
// and never written afterwards.

var (
	ulawEncTable [1 << 14]byte // index: uint16(sample) >> 2
	alawEncTable [1 << 13]byte // index: uint16(sample) >> 3
	ulawDecTable [256]int16
	alawDecTable [256]int16
	ulawToAlaw   [256]byte
	alawToUlaw   [256]byte
)

func init() {
	for i := range ulawEncTable {
		ulawEncTable[i] = linearToUlaw(int16(uint16(i << 2)))
	}
	for i := range alawEncTable {
		alawEncTable[i] = linearToAlaw(int16(uint16(i << 3)))
	}
	for i := range 256 {
		ulawDecTable[i] = ulawToLinear(byte(i))
		alawDecTable[i] = alawToLinear(byte(i))
	}
	for i := range 256 {
		ulawToAlaw[i] = linearToAlaw(ulawDecTable[i])
		alawToUlaw[i] = linearToUlaw(alawDecTable[i])
	}
}

const (
	ulawSilence = 0xFF // µ-law encoding of 0
	alawSilence = 0xD5 // A-law encoding of 0
)

var (
	segUEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
	segAEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}
)

func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

// linearToUlaw is the reference µ-law encoder (used to build the tables).
func linearToUlaw(sample int16) byte {
	const bias, clip = 0x84, 8159
	v := int(sample)
	mask := 0xFF
	if v < 0 {
		v = ^v
		mask = 0x7F
	}
	v >>= 2
	if v > clip {
		v = clip
	}
	v += bias >> 2
	seg := segment(v, &segUEnd)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	u := seg<<4 | (v>>(seg+1))&0xF
	return byte(u ^ mask)
}

// ulawToLinear is the reference µ-law decoder.
func ulawToLinear(u byte) int16 {
	const bias = 0x84
	u = ^u
	t := (int(u&0x0F) << 3) + bias
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(bias - t)
	}
	return int16(t - bias)
}

// linearToAlaw is the reference A-law encoder.
func linearToAlaw(sample int16) byte {
	v := int(sample) >> 3
	mask := 0xD5
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &segAEnd)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	a := seg << 4
	if seg < 2 {
		a |= (v >> 1) & 0x0F
	} else {
		a |= (v >> seg) & 0x0F
	}
	return byte(a ^ mask)
}

// alawToLinear is the reference A-law decoder.
func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0F) << 4
	switch seg := int(a&0x70) >> 4; seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// EncodeUlaw encodes one linear sample to µ-law.
func EncodeUlaw(s int16) byte { return ulawEncTable[uint16(s)>>2] }

// DecodeUlaw decodes one µ-law byte to a linear sample.
func DecodeUlaw(u byte) int16 { return ulawDecTable[u] }

// EncodeAlaw encodes one linear sample to A-law.
func EncodeAlaw(s int16) byte { return alawEncTable[uint16(s)>>3] }

// DecodeAlaw decodes one A-law byte to a linear sample.
func DecodeAlaw(a byte) int16 { return alawDecTable[a] }

// UlawToAlaw converts a µ-law byte to A-law directly.
func UlawToAlaw(u byte) byte { return ulawToAlaw[u] }

// AlawToUlaw converts an A-law byte to µ-law directly.
func AlawToUlaw(a byte) byte { return alawToUlaw[a] }

// Encode appends the encoding of pcm in codec c to dst and returns it.
func (c Codec) Encode(dst []byte, pcm []int16) []byte {
	if c.PT == PCMA.PT {
		for _, s := range pcm {
			dst = append(dst, alawEncTable[uint16(s)>>3])
		}
		return dst
	}
	for _, s := range pcm {
		dst = append(dst, ulawEncTable[uint16(s)>>2])
	}
	return dst
}

// Decode appends the linear samples of payload (in codec c) to dst.
func (c Codec) Decode(dst []int16, payload []byte) []int16 {
	tab := &ulawDecTable
	if c.PT == PCMA.PT {
		tab = &alawDecTable
	}
	for _, b := range payload {
		dst = append(dst, tab[b])
	}
	return dst
}

// silenceByte is the codec's encoding of a zero sample.
func (c Codec) silenceByte() byte {
	if c.PT == PCMA.PT {
		return alawSilence
	}
	return ulawSilence
}

// String returns the codec name.
func (c Codec) String() string { return c.Name }

// codecByPT returns the G.711 codec for a static payload type.
func codecByPT(pt uint8) (Codec, bool) {
	switch pt {
	case PCMU.PT:
		return PCMU, true
	case PCMA.PT:
		return PCMA, true
	}
	return Codec{}, false
}
