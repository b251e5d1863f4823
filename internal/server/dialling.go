package server

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/dialpolicy"
	"github.com/hotline-cc/hotline/dialpolicy/pgledger"
	"github.com/hotline-cc/hotline/eventlog"
	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/sip/native"
	"github.com/hotline-cc/hotline/survey"
)

// dialPolicyConfig maps the dialling section to the policy's config: the
// trunks default to every configured trunk.
func dialPolicyConfig(c *config.Config) dialpolicy.Config {
	d := c.Dialling
	pc := dialpolicy.Config{
		Allow: d.Allow, Deny: d.Deny, Trunks: d.Trunks, DailyCap: d.DailyCap,
		PerNumber: d.PerNumber, PerNumberWindow: d.PerNumberWindow, Zone: c.Service.Location,
	}
	if len(pc.Trunks) == 0 {
		for _, t := range c.SIP.Trunks {
			pc.Trunks = append(pc.Trunks, t.Name)
		}
	}
	return pc
}

// newDialPolicy builds the one dialling policy of the process, shared by
// the survey and the callbacks (Server.DialPolicy): its counts are in
// PostgreSQL once the database is open.
func (s *Server) newDialPolicy() (*dialpolicy.Policy, error) {
	return dialpolicy.New(dialPolicyConfig(s.cfg), dialpolicy.Deps{
		Ledger: &dialLedger{s: s, mem: dialpolicy.NewMemoryLedger()}, Publisher: s.bus, IDs: s.bus.IDs(),
		Logger: s.log, Mask: native.MaskNumber,
	})
}

// DialPolicy is the dialling policy the survey and the callbacks share
// (issue 17): ask Permit before every dial of a customer's number, with
// the number and trunk of the customer's inbound call (call.arrived).
func (s *Server) DialPolicy() *dialpolicy.Policy { return s.dialPolicy }

// dialLedger counts dials in PostgreSQL (dial_ledger, shared by the nodes
// and kept across restarts) once the database service has opened the
// pool, and in memory without a database.
type dialLedger struct {
	s   *Server
	mem *dialpolicy.MemoryLedger

	once sync.Once
	pg   *pgledger.Ledger
}

func (l *dialLedger) Take(ctx context.Context, t dialpolicy.Take) (dialpolicy.Reason, time.Time, error) {
	if l.s.pool == nil {
		return l.mem.Take(ctx, t)
	}
	l.once.Do(func() { l.pg, _ = pgledger.New(l.s.pool) })
	return l.pg.Take(ctx, t)
}

// currentCalendar is the survey's holidays and working weekends: the
// calendar of the flows in use, so the IVR and the survey read one
// calendar, also after a SIGHUP reload.
type currentCalendar struct{ s *Server }

func (c currentCalendar) days() survey.Holidays {
	return survey.CalendarHolidays(c.s.flows.Load().calendar)
}

// IsHoliday implements survey.Holidays.
func (c currentCalendar) IsHoliday(day time.Time) bool { return c.days().IsHoliday(day) }

// IsWorkingWeekend tells the survey a weekend day is a working day.
func (c currentCalendar) IsWorkingWeekend(day time.Time) bool {
	w, ok := c.days().(interface{ IsWorkingWeekend(time.Time) bool })
	return ok && w.IsWorkingWeekend(day)
}

// dialRefusals counts dial.refused events into
// hotline_dial_refused_total{purpose,reason}; every series exists at 0.
type dialRefusals struct{ c *prometheus.CounterVec }

func newDialRefusals(reg prometheus.Registerer) (*dialRefusals, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hotline_dial_refused_total",
		Help: "Dials of customers' numbers the dialling policy refused (survey and callbacks), by purpose and reason (not-e164, not-inbound, denied, not-allowed, per-number, daily-cap).",
	}, []string{"purpose", "reason"})
	for _, p := range []string{dialpolicy.PurposeSurvey, dialpolicy.PurposeCallback} {
		for _, r := range dialpolicy.Reasons {
			c.WithLabelValues(p, string(r))
		}
	}
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return &dialRefusals{c: c}, nil
}

// Publish counts a dial.refused event (a bus consumer).
func (d *dialRefusals) Publish(e eventlog.Event) {
	if e.Type != eventlog.DialRefused {
		return
	}
	purpose := e.String(eventlog.KeyPurpose)
	if purpose != dialpolicy.PurposeSurvey && purpose != dialpolicy.PurposeCallback {
		purpose = "other"
	}
	d.c.WithLabelValues(purpose, e.Reason).Inc()
}
