package simulate

import (
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/sip/siptest"
)

// customers are the customers' phones behind the trunk: they get hotline's
// survey calls (and callbacks), answer most of them after a ring, and
// press a rating and whether the problem was solved.
type customers struct{ s *sim }

func (cs customers) Ring(c *siptest.Call, cancelled <-chan struct{}) bool {
	s := cs.s
	s.counts.Add(func(c *Snapshot) { c.SurveyCalls++ })
	s.people.surveyStarted()
	answer := s.rnd.chance(s.cfg.SurveyAnswer)
	d := s.rnd.draw(s.cfg.RingDelay)
	if !answer {
		d = 3 * time.Second // looks at the number, declines
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return answer
	case <-cancelled:
		return false
	}
}

func (cs customers) Missed(*siptest.Call) { cs.s.people.surveyEnded() }

// answered follows the survey: when the greeting and the rating question
// have played and hotline listens, press a rating; when the "solved?"
// question has played, press 1 (yes) or 2 (no) as the customer's last
// call went; then wait for hotline's thanks and hangup.
func (cs customers) Answered(c *siptest.Call) {
	s := cs.s
	defer s.people.surveyEnded()
	s.counts.Add(func(c *Snapshot) { c.SurveyAnswered++ })
	ctx := s.surveyCtx
	log := s.log.With("survey_to", c.To)
	defer func() {
		select {
		case <-c.Done():
		case <-time.After(20 * time.Second): // no thanks and hangup: hang up
		case <-ctx.Done():
		}
		_ = c.Hangup(ctx)
	}()
	if !c.WaitPrompt(ctx, promptQuiet, promptLimit) {
		log.Info("simulate: survey ended before the rating question")
		return
	}
	rating := s.rnd.pick(s.cfg.RatingMix)
	if err := c.SendDTMF(ctx, rating); err != nil {
		return
	}
	r, _ := strconv.Atoi(rating)
	s.counts.Add(func(c *Snapshot) { c.Ratings[r]++ })
	if !c.WaitPrompt(ctx, promptQuiet, promptLimit) {
		return
	}
	resolved, known := s.people.lastResolved(c.To)
	if !known {
		resolved = s.rnd.chance(s.cfg.ResolvedShare)
	}
	digit := "2"
	if resolved {
		digit = "1"
	}
	if err := c.SendDTMF(ctx, digit); err != nil {
		return
	}
	s.counts.Add(func(c *Snapshot) {
		if resolved {
			c.SolvedYes++
		} else {
			c.SolvedNo++
		}
	})
}
