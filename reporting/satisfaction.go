package reporting

import (
	"sort"
	"time"
)

// FCR sources (the "source" label of hotline_fcr_ratio).
const (
	FCRDisposition = "disposition"
	FCRRepeat      = "repeat"
	FCRSurvey      = "survey"
	FCRCombined    = "combined"
)

// FCRSignal is one first-contact-resolution signal.
type FCRSignal struct {
	// Covered: population calls the signal has an answer for; Resolved: of
	// those, calls it says were resolved.
	Covered  int   `json:"covered"`
	Resolved int   `json:"resolved"`
	Ratio    Ratio `json:"ratio"`    // Resolved / Covered
	Coverage Ratio `json:"coverage"` // Covered / Population
}

// FCRFigures are the FCR figures for one line ("" = all lines).
type FCRFigures struct {
	Line        string    `json:"line"`
	Population  int       `json:"population"` // answered calls
	Disposition FCRSignal `json:"disposition"`
	Repeat      FCRSignal `json:"repeat"`
	Survey      FCRSignal `json:"survey"`
	Combined    FCRSignal `json:"combined"`
}

func callTime(c Call) time.Time {
	if !c.ArrivedAt.IsZero() {
		return c.ArrivedAt
	}
	return c.JoinedAt
}

// ComputeFCR computes FCR for the answered calls in population, per line of
// first answer and overall (Line ""). history holds every call (any outcome)
// that may be a repeat of a population call: at least those arriving up to
// window after the population's last call. asOf is the report time: the
// repeat signal covers a call only once its window has closed
// (arrival + window <= asOf).
//
//   - disposition: covers calls with disposition resolved, not_resolved or
//     escalated; resolved = "resolved".
//   - repeat: covers calls from a known (non-anonymous) number whose window
//     has closed; resolved = no other call from the same normalized number
//     arrived in (arrival, arrival + window].
//   - survey: covers calls whose survey answered the "solved" question;
//     resolved = "yes".
//   - combined: covers calls covered by any signal; resolved only when every
//     covering signal says resolved.
func ComputeFCR(population, history []Call, window time.Duration, asOf time.Time) []FCRFigures {
	if window <= 0 {
		window = DefaultRepeatWindow
	}
	arrivals := map[string][]time.Time{}
	for _, c := range history {
		if c.CallerNorm != "" {
			arrivals[c.CallerNorm] = append(arrivals[c.CallerNorm], callTime(c))
		}
	}
	for _, ts := range arrivals {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	}
	byLine := map[string]*FCRFigures{"": {Line: ""}}
	add := func(s *FCRSignal, covered, resolved bool) {
		if covered {
			s.Covered++
			if resolved {
				s.Resolved++
			}
		}
	}
	for _, c := range population {
		if c.Outcome != OutcomeAnswered {
			continue
		}
		line := c.FirstLine
		if byLine[line] == nil {
			byLine[line] = &FCRFigures{Line: line}
		}
		dCov := c.Disposition == "resolved" || c.Disposition == "not_resolved" || c.Disposition == "escalated"
		dRes := c.Disposition == "resolved"
		t := callTime(c)
		rCov := c.CallerNorm != "" && !t.Add(window).After(asOf)
		rRes := true
		if rCov {
			ts := arrivals[c.CallerNorm]
			i := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
			if i < len(ts) && !ts[i].After(t.Add(window)) {
				rRes = false
			}
		}
		sCov := c.SurveySolved != ""
		sRes := c.SurveySolved == "yes"
		cCov := dCov || rCov || sCov
		cRes := (!dCov || dRes) && (!rCov || rRes) && (!sCov || sRes)
		for _, f := range []*FCRFigures{byLine[""], byLine[line]} {
			if f == byLine[""] && line == "" && f != byLine[line] {
				continue
			}
			f.Population++
			add(&f.Disposition, dCov, dRes)
			add(&f.Repeat, rCov, rRes)
			add(&f.Survey, sCov, sRes)
			add(&f.Combined, cCov, cRes)
			if line == "" { // overall and line "" are the same entry
				break
			}
		}
	}
	out := make([]FCRFigures, 0, len(byLine))
	for _, f := range byLine {
		for _, s := range []*FCRSignal{&f.Disposition, &f.Repeat, &f.Survey, &f.Combined} {
			s.Ratio = Ratio{float64(s.Resolved), float64(s.Covered)}
			s.Coverage = Ratio{float64(s.Covered), float64(f.Population)}
		}
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// CSIFigures are customer-satisfaction figures for one group.
type CSIFigures struct {
	Key     string `json:"key"`
	Ratings int    `json:"ratings"`
	// Score is the mean of (rating − 1) / 4 × 100 (1 → 0, 3 → 50, 5 → 100).
	Score Ratio `json:"score"`
	// Top2 is the share of ratings 4 or 5.
	Top2         Ratio  `json:"top2"`
	Distribution [5]int `json:"distribution"` // counts of ratings 1..5
}

// CSIScore maps a 1–5 rating to 0–100.
func CSIScore(rating int) float64 { return float64(rating-1) / 4 * 100 }

// ComputeCSI groups rated calls by key (e.g. func(c Call) string { return
// c.Line }) and computes CSI per group; calls whose key is "" are skipped.
func ComputeCSI(calls []Call, key func(Call) string) []CSIFigures {
	m := map[string]*CSIFigures{}
	for _, c := range calls {
		if c.SurveyRating < 1 || c.SurveyRating > 5 {
			continue
		}
		k := key(c)
		if k == "" {
			continue
		}
		f := m[k]
		if f == nil {
			f = &CSIFigures{Key: k}
			m[k] = f
		}
		f.Ratings++
		f.Score.Num += CSIScore(c.SurveyRating)
		f.Distribution[c.SurveyRating-1]++
		if c.SurveyRating >= 4 {
			f.Top2.Num++
		}
	}
	out := make([]CSIFigures, 0, len(m))
	for _, f := range m {
		f.Score.Den = float64(f.Ratings)
		f.Top2.Den = float64(f.Ratings)
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Today returns [start, end) of the day containing now in loc (Europe/Moscow
// when nil).
func Today(now time.Time, loc *time.Location) (time.Time, time.Time) {
	if loc == nil {
		loc = moscow()
	}
	t := now.In(loc)
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	return start.UTC(), start.AddDate(0, 0, 1).UTC()
}
