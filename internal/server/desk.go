package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-cc/hotline/desk"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/queue"
	"github.com/hotline-cc/hotline/queue/callback"
	"github.com/hotline-cc/hotline/reporting"
)

// deskUsers are the desk's users from the config: agents with a web
// password, supervisors and admins.
func deskUsers(cfg *config.Config) []desk.User {
	var out []desk.User
	for _, a := range cfg.Agents {
		if a.WebPasswordHash != "" {
			out = append(out, desk.User{ID: a.ID, Name: a.Name, Role: desk.RoleAgent, Hash: a.WebPasswordHash, Same: sameAs(cfg, a.ID)})
		}
	}
	for _, u := range cfg.Web.Users {
		out = append(out, desk.User{ID: u.ID, Name: u.Name, Role: u.Role, Hash: u.PasswordHash, Teams: u.Teams, Queues: u.Queues,
			Same: sameAs(cfg, u.ID)})
	}
	return out
}

func sameAs(cfg *config.Config, id string) func(string) bool {
	return func(hash string) bool { return cfg.SameWebPassword(id, hash) }
}

// newDesk builds the agents' desk (docs/desk.md) on the server's bus; its
// history and figures come from the store once the database is open.
func (s *Server) newDesk() (*desk.Desk, error) {
	cfg := s.cfg
	dc := desk.Config{
		Users:             deskUsers(cfg),
		PauseReasons:      cfg.Web.PauseReasons,
		OutcomeCategories: cfg.Web.OutcomeCategories,
		EscalationReasons: cfg.Escalation.Reasons,
		EscalationQueue:   cfg.Escalation.Queue,
		Token:             cfg.HTTP.Token.Value(),
		Publisher:         s.bus,
		FCRWindow:         cfg.Reporting.FCRWindow,
		Location:          cfg.Service.Location,
		SessionTTL:        cfg.Web.SessionTTL,
		SecureCookies:     cfg.Web.SecureCookies,
		Lockout:           desk.Lockout{Failures: cfg.Web.LoginLockout.Failures, Window: cfg.Web.LoginLockout.Window, Ban: cfg.Web.LoginLockout.Ban},
		Language:          cfg.Service.Language,
		Log:               s.log.With("component", "desk"),
	}
	for _, a := range cfg.Agents {
		dc.Agents = append(dc.Agents, desk.Agent{ID: a.ID, Name: a.Name, Team: a.Team, Line: a.Line, Wrapup: a.Wrapup})
	}
	if cfg.Database.URL != "" {
		dc.History, dc.Figures, dc.Reports = deskStore{s}, deskStore{s}, deskStore{s}
		dc.Callbacks = deskCallbacks{&s.callbacks}
	}
	// The wallboard reads the live figures as /metrics serves them and the
	// agents' states as GET /api/v1/agents answers them.
	dc.Live = s.reg
	dc.AgentStates = boardAgents(s.runner)
	dc.Recordings = deskRecordings{s}
	dc.Review = deskReview{s}
	if s.native != nil { // the page's softphone (Asterisk mode: unavailable, docs/asterisk.md)
		dc.Softphone = newSoftphone(s.native, cfg)
	}
	return desk.New(dc)
}

// boardAgents reads the agents' states as the queue API shows them.
func boardAgents(r *queue.Runner) func(context.Context) ([]desk.BoardAgent, error) {
	return func(context.Context) ([]desk.BoardAgent, error) {
		as := r.Agents()
		out := make([]desk.BoardAgent, len(as))
		for i, a := range as {
			out[i] = desk.BoardAgent{ID: a.ID, Name: a.Name, Team: a.Team, State: a.State, Reason: a.Reason, Since: a.Since, Queues: a.Queues, CallID: a.CallID}
		}
		return out, nil
	}
}

// deskStore reads the store for the desk once the database is open.
type deskStore struct{ s *Server }

var errNoStore = errors.New("the database is not open")

func (d deskStore) CallsOfNumber(ctx context.Context, number string) ([]string, error) {
	if d.s.store == nil {
		return nil, errNoStore
	}
	return d.s.store.CallsOfNumber(ctx, number)
}

func (d deskStore) CallEvents(ctx context.Context, callID string) ([]eventlog.Event, error) {
	if d.s.store == nil {
		return nil, errNoStore
	}
	return d.s.store.CallEvents(ctx, callID)
}

func (d deskStore) AgentReport(ctx context.Context, from, to, asOf time.Time) (agents, teams []reporting.AgentFigures, err error) {
	if d.s.store == nil {
		return nil, nil, errNoStore
	}
	return d.s.store.AgentReport(ctx, from, to, asOf)
}

func (d deskStore) CSISurveyedReport(ctx context.Context, from, to time.Time, by string) ([]reporting.CSIFigures, error) {
	if d.s.store == nil {
		return nil, errNoStore
	}
	return d.s.store.CSISurveyedReport(ctx, from, to, by)
}

func (d deskStore) QueueReport(ctx context.Context, from, to time.Time) ([]reporting.QueueFigures, error) {
	if d.s.store == nil {
		return nil, errNoStore
	}
	return d.s.store.QueueReport(ctx, from, to)
}

func (d deskStore) CSIReport(ctx context.Context, from, to time.Time, by string) ([]reporting.CSIFigures, error) {
	if d.s.store == nil {
		return nil, errNoStore
	}
	return d.s.store.CSIReport(ctx, from, to, by)
}

func (d deskStore) FCRReport(ctx context.Context, from, to, asOf time.Time) ([]reporting.FCRFigures, error) {
	if d.s.store == nil {
		return nil, errNoStore
	}
	return d.s.store.FCRReport(ctx, from, to, asOf)
}

func (d deskStore) EscalationReport(ctx context.Context, from, to time.Time) (reporting.EscalationFigures, error) {
	if d.s.store == nil {
		return reporting.EscalationFigures{}, errNoStore
	}
	return d.s.store.EscalationReport(ctx, from, to)
}

// deskCallbacks are the desk's way to the durable callbacks (queue/callback).
type deskCallbacks struct{ c *callbackStore }

// agentCallbackList is how many of an agent's callbacks the desk lists.
const agentCallbackList = 50

func (d deskCallbacks) Schedule(ctx context.Context, r desk.CallbackRequest) (string, error) {
	svc := d.c.svc.Load()
	if svc == nil {
		return "", errNoCallbackService
	}
	id, err := svc.Schedule(ctx, callback.Scheduled{OfCall: r.OfCall, Number: r.Number, Trunk: r.Trunk, Queue: r.Queue, Lang: r.Lang,
		Agent: r.Agent, Notes: r.Notes, Due: r.Due})
	if errors.Is(err, callback.ErrInvalid) {
		return "", fmt.Errorf("%w: %v", desk.ErrInvalidCallback, err)
	}
	return id, err
}

func (d deskCallbacks) OfAgent(ctx context.Context, agent string) ([]desk.CallbackJSON, error) {
	svc := d.c.svc.Load()
	if svc == nil {
		return nil, errNoCallbackService
	}
	scs, err := svc.OfAgent(ctx, agent, agentCallbackList)
	if err != nil {
		return nil, err
	}
	out := make([]desk.CallbackJSON, len(scs))
	for i, sc := range scs {
		out[i] = desk.CallbackJSON{CallID: sc.CallID, OfCall: sc.OfCall, Caller: sc.Number, Queue: sc.Queue, Agent: sc.Agent, Due: sc.Due,
			State: sc.State, Outcome: sc.Outcome, Attempts: sc.Attempts}
	}
	return out, nil
}
