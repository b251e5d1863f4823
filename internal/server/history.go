package server

import (
	"context"
	"errors"
	"time"

	"github.com/hotline-cc/hotline/ivr"
)

// callerHistory is the IVR's caller history (lookup nodes, the caller card,
// the preferred agent) from the call records in PostgreSQL.
type callerHistory struct{ s *Server }

// Lookup implements ivr.History.
func (h callerHistory) Lookup(ctx context.Context, caller string, since time.Time) (ivr.CallerHistory, error) {
	st := h.s.store
	if st == nil {
		return ivr.CallerHistory{}, errors.New("caller history: the database is not open")
	}
	r, err := st.CallerHistory(ctx, caller, since)
	if err != nil {
		return ivr.CallerHistory{}, err
	}
	out := ivr.CallerHistory{Calls: r.Calls, LastCallAt: r.LastCallAt, LastOutcome: r.LastOutcome,
		LastQueue: r.LastQueue, LastAgent: r.LastAgent, LastCSI: r.LastCSI}
	if e := r.OpenEscalation; e != nil {
		out.OpenEscalation = &ivr.Escalation{CallID: e.CallID, Queue: e.Queue, At: e.At}
	}
	return out, nil
}
