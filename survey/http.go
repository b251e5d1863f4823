package survey

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/sip"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Handler serves the survey API:
//
//	GET  /api/v1/surveys?state=&limit=   counts by state and a list (numbers masked)
//	POST /api/v1/surveys/{id}/cancel     cancel a survey not yet dialled
//	GET  /api/v1/surveys/review?all=1    rated 1–2 or "not solved" (unreviewed unless all)
//	POST /api/v1/surveys/review/{id}     {"comment": "...", "by": "..."} marks reviewed
//
// No endpoint takes a phone number: the bot dials only numbers that called in.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/surveys", s.handleList)
	mux.HandleFunc("GET /api/v1/surveys/review", s.handleReview)
	mux.HandleFunc("POST /api/v1/surveys/{a}/{b}", func(w http.ResponseWriter, r *http.Request) {
		switch a, b := r.PathValue("a"), r.PathValue("b"); {
		case a == "review":
			s.handleReviewed(w, r, b)
		case b == "cancel":
			s.handleCancel(w, r, a)
		default:
			http.NotFound(w, r)
		}
	})
	return mux
}

// Summary is one survey in the API.
type Summary struct {
	ID          int64      `json:"id"`
	CallID      string     `json:"call_id"`
	Number      string     `json:"number"` // masked
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	CallAt      time.Time  `json:"call_at"`
	NextAt      *time.Time `json:"next_at,omitempty"`
	Attempts    int        `json:"attempts"`
	Zone        string     `json:"zone,omitempty"`
	Queue       string     `json:"queue"`
	Agent       string     `json:"agent"`
	Team        string     `json:"team,omitempty"`
	Line        int        `json:"line"`
	Visits      []Visit    `json:"visits"`
	Escalated   bool       `json:"escalated"`
	EscalatedTo string     `json:"escalated_to,omitempty"`
	EscReason   string     `json:"escalation_reason,omitempty"`
	Disposition string     `json:"disposition,omitempty"`
	Code        string     `json:"disposition_code,omitempty"`
	Notes       string     `json:"notes,omitempty"`
	Rating      *int       `json:"rating,omitempty"`
	Solved      *string    `json:"solved,omitempty"`
	ReviewedAt  *time.Time `json:"reviewed_at,omitempty"`
	ReviewedBy  string     `json:"reviewed_by,omitempty"`
	Comment     string     `json:"review_comment,omitempty"`
	// Recording is where the call's recording plays in the desk (review
	// list only, when there is one); the agent's notes are Notes.
	Recording string `json:"recording,omitempty"`
}

const summaryCols = `id, call_id, number, state, reason, call_at, next_at, attempts, zone, queue, agent, team, line, visits,
	escalated, escalated_to, escalation_reason, disposition, disposition_code, notes, rating, solved,
	reviewed_at, reviewed_by, review_comment`

func scanSummaries(rows pgx.Rows) ([]Summary, error) {
	out := []Summary{}
	for rows.Next() {
		var x Summary
		var rating *int16
		if err := rows.Scan(&x.ID, &x.CallID, &x.Number, &x.State, &x.Reason, &x.CallAt, &x.NextAt, &x.Attempts, &x.Zone,
			&x.Queue, &x.Agent, &x.Team, &x.Line, &x.Visits, &x.Escalated, &x.EscalatedTo, &x.EscReason, &x.Disposition,
			&x.Code, &x.Notes, &rating, &x.Solved, &x.ReviewedAt, &x.ReviewedBy, &x.Comment); err != nil {
			return nil, err
		}
		if rating != nil {
			r := int(*rating)
			x.Rating = &r
		}
		if x.Number != "" {
			x.Number = sip.MaskNumber(x.Number)
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Counts groups survey states for the API: scheduled (scheduled, retry),
// in_progress, done (completed, optout), failed, and the raw states.
type Counts struct {
	Scheduled  int            `json:"scheduled"`
	InProgress int            `json:"in_progress"`
	Done       int            `json:"done"`
	Failed     int            `json:"failed"`
	ByState    map[string]int `json:"by_state"`
	// ByZone counts the numbers whose zone was looked up (every survey
	// that passed eligibility, skipped ones included) by how sure hotline
	// was of the zone: known, ambiguous (the region spans zones), unknown
	// (anywhere in the country). ZoneSkipped is how many were not
	// surveyed for that reason (survey.unknown_zone: skip), NoWindow how
	// many found no hour inside the window in every possible zone.
	ByZone      map[string]int `json:"by_zone"`
	ZoneSkipped int            `json:"zone_skipped"`
	NoWindow    int            `json:"no_window"`
}

// Counts returns the number of surveys by state.
func (s *Service) Counts(ctx context.Context) (Counts, error) {
	c := Counts{ByState: map[string]int{}, ByZone: map[string]int{}}
	if err := s.deps.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE reason = $1), count(*) FILTER (WHERE reason = $2) FROM survey`,
		SkipZoneUnknown, SkipNoWindow).Scan(&c.ZoneSkipped, &c.NoWindow); err != nil {
		return c, err
	}
	zrows, err := s.deps.Pool.Query(ctx, `SELECT zone_status, count(*) FROM survey WHERE zone_status <> '' GROUP BY zone_status`)
	if err != nil {
		return c, err
	}
	for zrows.Next() {
		var st string
		var n int
		if err := zrows.Scan(&st, &n); err != nil {
			zrows.Close()
			return c, err
		}
		c.ByZone[st] = n
	}
	zrows.Close()
	if err := zrows.Err(); err != nil {
		return c, err
	}
	rows, err := s.deps.Pool.Query(ctx, `SELECT state, count(*) FROM survey GROUP BY state`)
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return c, err
		}
		c.ByState[st] = n
		switch st {
		case "scheduled", "retry":
			c.Scheduled += n
		case "in_progress":
			c.InProgress += n
		case "completed", "optout":
			c.Done += n
		case "failed":
			c.Failed += n
		}
	}
	return c, rows.Err()
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	counts, err := s.Counts(ctx)
	if err != nil {
		httpError(w, err)
		return
	}
	limit := 100
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 1000 {
		limit = n
	}
	state := r.URL.Query().Get("state")
	rows, err := s.deps.Pool.Query(ctx, `SELECT `+summaryCols+` FROM survey WHERE ($1 = '' OR state = $1) ORDER BY id DESC LIMIT $2`, state, limit)
	if err != nil {
		httpError(w, err)
		return
	}
	list, err := scanSummaries(rows)
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": counts, "surveys": list})
}

// Cancel cancels a survey that is scheduled or waiting for a retry.
func (s *Service) Cancel(ctx context.Context, id int64) error {
	tx, err := s.deps.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var state string
	var jobID *int64
	var r row
	err = tx.QueryRow(ctx, `SELECT state, job_id, call_id, queue, agent, line, visits FROM survey WHERE id = $1 FOR UPDATE`, id).
		Scan(&state, &jobID, &r.CallID, &r.Queue, &r.Agent, &r.Line, &r.Visits)
	if errors.Is(err, pgx.ErrNoRows) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if state != "scheduled" && state != "retry" {
		return errConflict
	}
	if _, err := tx.Exec(ctx, `UPDATE survey SET state = 'cancelled', reason = 'api', next_at = NULL, updated_at = now() WHERE id = $1`, id); err != nil {
		return err
	}
	if jobID != nil {
		if _, err := s.river.JobCancelTx(ctx, tx, *jobID); err != nil && !errors.Is(err, river.ErrNotFound) {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	r.ID = id
	s.emit(s.event(r, eventlog.SurveySkipped, "cancelled"))
	return nil
}

var (
	errNotFound = errors.New("survey not found")
	errConflict = errors.New("survey is not scheduled")
)

func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request, idText string) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	if err := s.Cancel(r.Context(), id); err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "state": "cancelled"})
}

func (s *Service) handleReview(w http.ResponseWriter, r *http.Request) {
	list, err := s.Review(r.Context(), r.URL.Query().Get("all") == "1")
	if err != nil {
		httpError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"review": list})
}

// Review is the low-rating review list: surveys rated 1–2 or "not
// solved", newest first (1000 at most), unreviewed ones unless all, each
// with the agent's notes and the link to its recording when there is one.
func (s *Service) Review(ctx context.Context, all bool) ([]Summary, error) {
	rows, err := s.deps.Pool.Query(ctx, `SELECT `+summaryCols+` FROM survey
		WHERE (rating <= 2 OR solved = 'no') AND ($1 OR reviewed_at IS NULL) ORDER BY id DESC LIMIT 1000`, all)
	if err != nil {
		return nil, err
	}
	list, err := scanSummaries(rows)
	if err != nil {
		return nil, err
	}
	if rec := s.deps.Recordings; rec != nil && len(list) > 0 {
		ids := make([]string, len(list))
		for i, x := range list {
			ids[i] = x.CallID
		}
		playable, err := rec.Playable(ctx, ids)
		if err != nil {
			s.log.Warn("review list: recordings unknown", "error", err)
		}
		for i := range list {
			if playable[list[i].CallID] {
				list[i].Recording = "/desk/api/calls/" + url.PathEscape(list[i].CallID) + "/recording"
			}
		}
	}
	return list, nil
}

func (s *Service) handleReviewed(w http.ResponseWriter, r *http.Request, idText string) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	var body struct {
		Comment string `json:"comment"`
		By      string `json:"by"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&body); err != nil {
		http.Error(w, "bad body: "+err.Error(), http.StatusBadRequest)
		return
	}
	tag, err := s.deps.Pool.Exec(r.Context(), `UPDATE survey SET reviewed_at = now(), reviewed_by = $2, review_comment = $3, updated_at = now()
		WHERE id = $1 AND (rating <= 2 OR solved = 'no')`, id, body.By, body.Comment)
	if err != nil {
		httpError(w, err)
		return
	}
	if tag.RowsAffected() == 0 {
		httpError(w, errNotFound)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "reviewed": true})
}

func httpError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, errConflict):
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
