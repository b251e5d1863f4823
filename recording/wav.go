package recording

import (
	"encoding/binary"
)

// Stereo 16-bit PCM at 8 kHz.
const (
	sampleRate = 8000
	channels   = 2
	frameBytes = 2 * channels
	headerSize = 44
)

// wavHeader is the 44-byte header of a stereo 8 kHz 16-bit file with
// dataBytes of samples.
func wavHeader(dataBytes uint32) [headerSize]byte {
	var h [headerSize]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], channels)
	binary.LittleEndian.PutUint32(h[24:], sampleRate)
	binary.LittleEndian.PutUint32(h[28:], sampleRate*frameBytes)
	binary.LittleEndian.PutUint16(h[32:], frameBytes)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], dataBytes)
	return h
}
