package survey

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

// Answers is what the customer said. Partial answers are kept.
type Answers struct {
	Rating int    // 1–5, 0 = no answer
	Solved string // "yes", "no" or ""
	OptOut bool   // pressed 9: never call again
	HungUp bool   // the customer hung up before the end
}

// Prompt names under the language's prompt set (prompts/generated/<lang>/hotline).
const (
	PromptGreeting = "hotline/survey-greeting"
	PromptRate     = "hotline/survey-rate"
	PromptSolved   = "hotline/survey-solved"
	PromptThanks   = "hotline/survey-thanks"
	PromptOptOut   = "hotline/survey-optout"
	PromptInvalid  = "hotline/menu-invalid"
)

// OptOutDigit is accepted at every question.
const OptOutDigit = '9'

// runScript plays the survey on an answered leg: greeting (and the call's
// date), Q1 rating 1–5, Q2 solved 1 yes / 2 no, 9 = never call again,
// thanks or opt-out confirmation. Invalid or no input repeats a question
// once, then the script moves on.
func (s *Service) runScript(ctx context.Context, leg sip.Leg, callAt time.Time) Answers {
	var a Answers
	lang := s.cfg.Language
	play := func(names ...string) error {
		ps := make([]sip.Prompt, len(names))
		for i, n := range names {
			ps[i] = sip.Prompt{Name: n, Lang: lang}
		}
		_, err := leg.Play(ctx, sip.PlayOptions{Prompts: ps, StopOnDigit: true})
		return err
	}
	stop := func(err error) bool {
		if errors.Is(err, sip.ErrHangup) {
			a.HungUp = true
		}
		return err != nil
	}
	if stop(play(PromptGreeting)) {
		return a
	}
	if s.cfg.SayDate && lang == "ru" {
		if err := play(DatePrompts(callAt.In(s.cfg.ServiceZone))...); stop(err) && !errors.Is(err, sip.ErrUnknownPrompt) {
			return a
		}
	}
	d, err := s.ask(ctx, leg, PromptRate, "12345")
	if stop(err) {
		return a
	}
	switch {
	case d == OptOutDigit:
		a.OptOut = true
	case d != 0:
		a.Rating = int(d - '0')
	}
	if !a.OptOut {
		d, err = s.ask(ctx, leg, PromptSolved, "12")
		if stop(err) {
			return a
		}
		switch d {
		case OptOutDigit:
			a.OptOut = true
		case '1':
			a.Solved = "yes"
		case '2':
			a.Solved = "no"
		}
	}
	closing := PromptThanks
	if a.OptOut {
		closing = PromptOptOut
	}
	if stop(play(closing)) {
		return a
	}
	return a
}

// ask plays a question and reads one digit from valid (or the opt-out
// digit). It returns 0 after two tries without a valid digit.
func (s *Service) ask(ctx context.Context, leg sip.Leg, prompt, valid string) (rune, error) {
	lang := s.cfg.Language
	for try := 0; try < 2; try++ {
		if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: prompt, Lang: lang}}, StopOnDigit: true}); err != nil {
			return 0, err
		}
		digits, err := leg.ReadDigits(ctx, sip.DigitOptions{Max: 1, FirstTimeout: s.cfg.InputTimeout})
		if err != nil {
			return 0, err
		}
		if digits == "" {
			continue // no input: repeat once
		}
		d := []rune(digits)[0]
		if d == OptOutDigit || strings.ContainsRune(valid, d) {
			return d, nil
		}
		if try == 0 {
			if _, err := leg.Play(ctx, sip.PlayOptions{Prompts: []sip.Prompt{{Name: PromptInvalid, Lang: lang}}}); err != nil {
				return 0, err
			}
			leg.FlushDigits()
		}
	}
	return 0, nil
}

// DatePrompts speaks a date in Russian from the Asterisk sounds: the
// ordinal day ("digits/h-15", or "digits/20" + "digits/h-3" for the 23rd)
// and the month in the genitive ("digits/mon-2" for March).
func DatePrompts(t time.Time) []string {
	d := t.Day()
	var out []string
	switch {
	case d <= 20 || d%10 == 0:
		out = append(out, "digits/h-"+strconv.Itoa(d))
	default:
		out = append(out, "digits/"+strconv.Itoa(d/10*10), "digits/h-"+strconv.Itoa(d%10))
	}
	return append(out, "digits/mon-"+strconv.Itoa(int(t.Month())-1))
}
