package desk

import (
	"context"
	"net/http"
	"slices"
	"time"
)

// ReviewRow is one call a customer rated low (1–2, or "not solved"), as
// the supervisors' review panel shows it.
type ReviewRow struct {
	CallID    string    `json:"call_id"`
	At        time.Time `json:"at"`
	Queue     string    `json:"queue"`
	Agent     string    `json:"agent"`
	Team      string    `json:"team,omitempty"`
	Rating    *int      `json:"rating,omitempty"`
	Solved    *string   `json:"solved,omitempty"`
	Notes     string    `json:"notes,omitempty"`     // the agent's notes
	Recording string    `json:"recording,omitempty"` // where its recording plays, when there is one
}

// Review reads the survey's review list (the survey service in serve).
type Review interface {
	ReviewList(ctx context.Context) ([]ReviewRow, error)
}

// review is GET /desk/api/review: the low ratings of the supervisor's
// teams and queues (admins: all); agents 403.
func (d *Desk) review(w http.ResponseWriter, r *http.Request, p principal) {
	if p.role() == RoleAgent {
		writeError(w, http.StatusForbidden, "agents do not review ratings")
		return
	}
	out := []ReviewRow{}
	if d.cfg.Review != nil {
		rows, err := d.cfg.Review.ReviewList(r.Context())
		if err != nil {
			d.log.Warn("review list failed", "error", err)
			writeError(w, http.StatusServiceUnavailable, "the review list is not available now")
			return
		}
		for _, x := range rows {
			if p.role() == RoleAdmin || d.mayActOnAgent(p, x.Agent) || slices.Contains(p.user.Queues, x.Queue) {
				out = append(out, x)
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"review": out})
}
