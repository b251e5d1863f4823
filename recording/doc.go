// Package recording records bridged calls (issue 19): the caller on the
// left channel and the agent (first line, then second line) on the right
// of a stereo WAV file, G.711 decoded to 16-bit PCM at 8 kHz.
//
// The audio comes from a media.Tap on the caller's stream (sip/media): the
// relay hands each packet to a bounded channel and never waits, so a slow
// or full disk loses recording data (counted), never the call. A Recorder
// places every packet by its RTP timestamp, anchored at its arrival, on a
// timeline that starts at the first bridge and ends at the last unbridge;
// what nobody said (pauses, the hold between first and second line) is
// silence, so the file lasts as long as the call was bridged. Each bridge
// to another agent is a segment (first line, second line).
//
// Files are written under a directory with a path template; metadata
// (call, agents, queue, start, duration, size, SHA-256, segments) is kept
// in PostgreSQL (table recordings, migrations through internal/pgmigrate).
// The retention job deletes files past their period and marks their rows;
// EraseCalls does the same for the calls of one caller (docs/privacy.md).
package recording
