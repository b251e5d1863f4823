package eventlog

// Call recording (produced by package recording).
const (
	// RecordingStarted: a call's recording began (its first bridge is to
	// come). Queue, Data[file] = the path under recording.dir.
	RecordingStarted Type = "recording.started"
	// RecordingStopped: the recording is complete. Data[file],
	// Data[duration_ms], Data[size], Data[dropped], Data[sha256]; or
	// Reason = not-bridged: the call never reached an agent, nothing was
	// kept (no file, no row).
	RecordingStopped Type = "recording.stopped"
	// RecordingFailed: the recording is lost (the call goes on). Reason =
	// create|write|store, Data[error] = what the system said.
	RecordingFailed Type = "recording.failed"
	// RecordingDeleted: a recording's file was deleted. Reason =
	// retention|erased, Data[file].
	RecordingDeleted Type = "recording.deleted"
)

// Payload keys of the recording events.
const (
	KeyRecordingFile    StringKey   = "file"
	KeyRecordingSHA256  StringKey   = "sha256"
	KeyRecordingLength  DurationKey = "duration_ms"
	KeyRecordingSize    IntKey      = "size"
	KeyRecordingDropped IntKey      = "dropped"
)
