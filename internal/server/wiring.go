package server

import (
	"log/slog"

	"github.com/hotline-cc/hotline/internal/config"
	"github.com/hotline-cc/hotline/reporting"
	"github.com/hotline-cc/hotline/sip/asterisk"
	"github.com/hotline-cc/hotline/sip/native"
	"github.com/hotline-cc/hotline/survey"
)

// The config file mapped to each package's own config (the queue's is in
// queuewire.go).

// asteriskConfig maps the config to the ARI switch's.
func asteriskConfig(cfg *config.Config, log *slog.Logger) asterisk.Config {
	a := cfg.Asterisk
	ac := asterisk.Config{
		URL: a.URL, Username: a.Username, Password: a.Password.Value(), Application: a.Application,
		AgentEndpoint: a.AgentEndpoint, Trunks: a.Trunks, RingTimeout: cfg.SIP.RingTimeout,
		DefaultLang: cfg.Service.Language, Logger: log,
	}
	if len(cfg.SIP.Trunks) > 0 {
		ac.DefaultTrunk, ac.CallerID = cfg.SIP.Trunks[0].Name, cfg.SIP.Trunks[0].CallerID
	}
	for class := range cfg.Media.MOH {
		ac.MOHClasses = append(ac.MOHClasses, class)
	}
	return ac
}

// credentialsOf is the agents' and the supervisors' SIP users and passwords.
func credentialsOf(cfg *config.Config) native.StaticCredentials {
	creds := native.StaticCredentials{}
	for _, a := range cfg.Agents {
		creds[a.SIPUser] = a.Password.Value()
	}
	for _, u := range cfg.Web.Users { // supervisors' phones (monitoring)
		if u.SIPUser != "" {
			creds[u.SIPUser] = u.SIPPassword.Value()
		}
	}
	return creds
}

// nativeConfig maps the config to the native switch's.
func nativeConfig(cfg *config.Config, mp *mediaParts, log *slog.Logger) native.Config {
	nc := native.Config{
		Listen:             cfg.SIP.Listen,
		Realm:              cfg.SIP.Realm,
		DigestAlgorithms:   cfg.SIP.DigestAlgorithms,
		Credentials:        credentialsOf(cfg),
		Media:              mp.engine,
		Catalog:            mp.catalog,
		RingTimeout:        cfg.SIP.RingTimeout,
		RegisterMinExpiry:  cfg.SIP.Register.MinExpiry,
		RegisterMaxExpiry:  cfg.SIP.Register.MaxExpiry,
		AuthFailLimit:      cfg.SIP.AuthLockout.Failures,
		AuthFailWindow:     cfg.SIP.AuthLockout.Window,
		AuthUserFailLimit:  cfg.SIP.AuthLockout.UserFailures,
		AuthUserFailWindow: cfg.SIP.AuthLockout.UserWindow,
		AuthBanTime:        cfg.SIP.AuthLockout.Ban,
		AuthMaxBan:         cfg.SIP.AuthLockout.MaxBan,
		TCPIdleTimeout:     offIsNegative(cfg.SIP.TCP.IdleTimeout),
		TCPMaxPerSource:    offIsNegative(cfg.SIP.TCP.MaxPerSource),
		UserAgent:          cfg.Service.Name,
		Logger:             log,
	}
	if cfg.SIP.Advertise.IsValid() && cfg.SIP.Advertise != cfg.SIP.ListenAddr.Addr() {
		nc.AdvertiseIP = cfg.SIP.Advertise
	}
	nc.WebRTC = native.WebRTCConfig{Port: cfg.SIP.WebRTC.Port, PublicIPs: cfg.SIP.WebRTC.PublicIPs}
	for _, t := range cfg.SIP.Trunks {
		nc.Trunks = append(nc.Trunks, native.Trunk{
			Name: t.Name, Allow: t.Allow, Address: t.Address, Transport: t.Transport,
			CallerID: t.CallerID, Username: t.Username, Password: t.Password.Value(),
		})
	}
	return nc
}

// offIsNegative maps the config's 0 ("off") to the native switch's -1
// (its 0 is "the default").
func offIsNegative[T ~int | ~int64](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// surveyConfigOf maps the survey section (with the agents' teams and the
// queues' lines) to the survey bot's config.
func surveyConfigOf(c *config.Config) survey.Config {
	sc := c.Survey
	cfg := survey.Config{
		Trunk: sc.Trunk, CallerID: sc.CallerID, Delay: sc.Delay,
		Window:       survey.Window{From: sc.Window.FromOffset, To: sc.Window.ToOffset},
		SkipWeekends: sc.SkipWeekends, SkipHolidays: sc.SkipHolidays, Sampling: sc.Sampling,
		MaxConcurrent: sc.MaxConcurrent, PerMinute: sc.PerMinute, DailyCap: sc.DailyCap,
		Attempts: sc.Attempts, RetryDelay: sc.RetryDelay, CooldownDays: sc.CooldownDays, LastDay: sc.LastDay,
		Language: sc.Language, ServiceZone: c.Service.Location, UnknownZone: sc.UnknownZone,
		Teams: map[string]string{}, QueueLines: map[string]int{},
	}
	for _, a := range c.Agents {
		cfg.Teams[a.ID] = a.Team
	}
	for _, q := range c.Queues {
		cfg.QueueLines[q.Name] = q.Line
	}
	return cfg
}

// ReportingConfig maps the config file to the formulas' configuration:
// per-queue T, S and line, teams, the FCR window and the service's zone.
func ReportingConfig(c *config.Config) *reporting.Config {
	rc := &reporting.Config{
		ShortAbandon: c.Reporting.ShortAbandon,
		RepeatWindow: c.Reporting.FCRWindow,
		Location:     c.Service.Location,
		Queues:       map[string]reporting.QueueConfig{},
		Teams:        map[string]string{},
	}
	for _, q := range c.Queues {
		qc := reporting.QueueConfig{Threshold: q.SLThreshold, ShortAbandon: q.ShortAbandon, Line: reporting.LineFirst, Target: q.SLTarget,
			CallbackThreshold: q.Callback.SLThreshold}
		if q.Line == 2 {
			qc.Line = reporting.LineSecond
		}
		rc.Queues[q.Name] = qc
	}
	for _, a := range c.Agents {
		if a.Team != "" {
			rc.Teams[a.ID] = a.Team
		}
	}
	return rc
}

// QueuesOf returns which queues each agent serves by the queue
// Engine's rule (docs/queue.md): the queue's skill at ≥ its minimum level
// (empty skill: everyone) and, when both set a line, the same line.
func QueuesOf(c *config.Config) func(string) []string {
	m := map[string][]string{}
	for _, a := range c.Agents {
		for _, q := range c.Queues {
			if q.Skill != "" && a.Skills[q.Skill] < max(q.MinLevel, 1) {
				continue
			}
			if a.Line != 0 && q.Line != 0 && a.Line != q.Line {
				continue
			}
			m[a.ID] = append(m[a.ID], q.Name)
		}
	}
	return func(id string) []string { return m[id] }
}
