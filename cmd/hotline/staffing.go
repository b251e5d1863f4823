package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/hotline-cc/hotline/reporting/staffing"
)

// staffingUsage is printed by `hotline staffing -h` and after a bad flag.
const staffingUsage = `usage: hotline staffing -calls N -aht DURATION [-interval 30m] [-target 80/20]
                        [-patience DURATION [-formula offered] [-short-abandon DURATION]] [-json]

Computes how many agents the offered traffic needs to reach the service-level
target: Erlang C, or Erlang A (callers abandon) when -patience is given.
Prints agents needed, predicted service level, ASA, occupancy, probability of
waiting and, for Erlang A, abandonment.

`

// staffingJSON is the -json output.
type staffingJSON struct {
	Model           string                 `json:"model"`
	Calls           float64                `json:"calls"`
	IntervalSeconds float64                `json:"interval_seconds"`
	AHTSeconds      float64                `json:"aht_seconds"`
	PatienceSeconds float64                `json:"patience_seconds"`
	Erlangs         float64                `json:"erlangs"`
	Target          staffingTargetJSON     `json:"target"`
	Agents          int                    `json:"agents"`
	ServiceLevel    float64                `json:"service_level"`
	ServiceLevels   staffing.ServiceLevels `json:"service_levels"`
	ASASeconds      float64                `json:"asa_seconds"`
	Occupancy       float64                `json:"occupancy"`
	ProbWait        float64                `json:"probability_of_waiting"`
	Abandonment     float64                `json:"abandonment"`
}

type staffingTargetJSON struct {
	ServiceLevel        float64 `json:"service_level"`
	ThresholdSeconds    float64 `json:"threshold_seconds"`
	Formula             string  `json:"formula"`
	ShortAbandonSeconds float64 `json:"short_abandon_seconds"`
}

// runStaffing implements `hotline staffing`. It returns the process exit
// code: 0 on success, 2 for bad arguments, 1 when the computation fails.
func runStaffing(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("staffing", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, staffingUsage)
		fs.PrintDefaults()
	}
	calls := fs.Float64("calls", 0, "calls offered per interval (required)")
	interval := fs.Duration("interval", 30*time.Minute, "length of the interval the calls arrive in")
	aht := fs.Duration("aht", 0, "average handle time, talk + wrap-up, e.g. 180s (required)")
	targetStr := fs.String("target", "80/20", "service-level target PERCENT/SECONDS")
	patience := fs.Duration("patience", 0, "mean caller patience; selects Erlang A (0 = Erlang C)")
	formulaStr := fs.String("formula", string(staffing.FormulaOffered), "Erlang A service-level formula: answered, offered or removed")
	shortAbandon := fs.Duration("short-abandon", 0, "short-abandon threshold S for the offered formula")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "hotline staffing: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'hotline staffing -h' for usage")
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q", fs.Arg(0))
	case !set["calls"]:
		return bad("-calls is required (calls offered per interval)")
	case math.IsNaN(*calls) || math.IsInf(*calls, 0) || *calls < 0:
		return bad("-calls %v: must be a number ≥ 0", *calls)
	case *interval <= 0:
		return bad("-interval %v: must be positive", *interval)
	case !set["aht"]:
		return bad("-aht is required (average handle time, e.g. 180s)")
	case *aht <= 0:
		return bad("-aht %v: must be positive", *aht)
	case *patience < 0:
		return bad("-patience %v: must not be negative (omit it for Erlang C)", *patience)
	case *shortAbandon < 0:
		return bad("-short-abandon %v: must not be negative", *shortAbandon)
	}
	target, err := staffing.ParseTarget(*targetStr)
	if err != nil {
		return bad("-target: %v", err)
	}
	formula, err := staffing.ParseFormula(*formulaStr)
	if err != nil {
		return bad("-formula: %v", err)
	}
	target.Formula = formula
	target.ShortAbandon = *shortAbandon

	traffic := staffing.Traffic{Calls: *calls, Interval: *interval, AHT: *aht, Patience: *patience}
	p, err := staffing.Required(traffic, target)
	if err != nil {
		fmt.Fprintf(stderr, "hotline staffing: %v\n", err)
		return 1
	}

	if *asJSON {
		out := staffingJSON{
			Model:           string(p.Model),
			Calls:           traffic.Calls,
			IntervalSeconds: traffic.Interval.Seconds(),
			AHTSeconds:      traffic.AHT.Seconds(),
			PatienceSeconds: traffic.Patience.Seconds(),
			Erlangs:         traffic.Erlangs(),
			Target: staffingTargetJSON{
				ServiceLevel:        target.ServiceLevel,
				ThresholdSeconds:    target.Threshold.Seconds(),
				Formula:             string(target.Formula),
				ShortAbandonSeconds: target.ShortAbandon.Seconds(),
			},
			Agents:        p.Agents,
			ServiceLevel:  p.ServiceLevel,
			ServiceLevels: p.ServiceLevels,
			ASASeconds:    p.ASA.Seconds(),
			Occupancy:     p.Occupancy,
			ProbWait:      p.ProbWait,
			Abandonment:   p.Abandon,
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(stderr, "hotline staffing: %v\n", err)
			return 1
		}
		return 0
	}

	pct := func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }
	thr := target.Threshold
	if p.Model == staffing.ErlangCModel {
		fmt.Fprintf(stdout, "model:                  Erlang C (%g calls in %v, AHT %v = %.2f Erlangs)\n",
			traffic.Calls, traffic.Interval, traffic.AHT, traffic.Erlangs())
		fmt.Fprintf(stdout, "target:                 %s answered within %v\n", pct(target.ServiceLevel), thr)
		fmt.Fprintf(stdout, "agents needed:          %d\n", p.Agents)
		fmt.Fprintf(stdout, "service level:          %s within %v\n", pct(p.ServiceLevel), thr)
	} else {
		fmt.Fprintf(stdout, "model:                  Erlang A (%g calls in %v, AHT %v = %.2f Erlangs, mean patience %v)\n",
			traffic.Calls, traffic.Interval, traffic.AHT, traffic.Erlangs(), traffic.Patience)
		fmt.Fprintf(stdout, "target:                 %s within %v, %s formula", pct(target.ServiceLevel), thr, target.Formula)
		if target.Formula == staffing.FormulaOffered && target.ShortAbandon > 0 {
			fmt.Fprintf(stdout, " (abandons within %v excluded)", target.ShortAbandon)
		}
		fmt.Fprintln(stdout)
		fmt.Fprintf(stdout, "agents needed:          %d\n", p.Agents)
		fmt.Fprintf(stdout, "service level:          %s within %v (%s)\n", pct(p.ServiceLevel), thr, target.Formula)
		fmt.Fprintf(stdout, "  answered formula:     %s\n", pct(p.ServiceLevels.Answered))
		fmt.Fprintf(stdout, "  offered formula:      %s\n", pct(p.ServiceLevels.Offered))
		fmt.Fprintf(stdout, "  removed formula:      %s\n", pct(p.ServiceLevels.Removed))
	}
	fmt.Fprintf(stdout, "ASA:                    %.1fs\n", p.ASA.Seconds())
	fmt.Fprintf(stdout, "occupancy:              %s\n", pct(p.Occupancy))
	fmt.Fprintf(stdout, "probability of waiting: %s\n", pct(p.ProbWait))
	if p.Model == staffing.ErlangAModel {
		fmt.Fprintf(stdout, "abandonment:            %s\n", pct(p.Abandon))
	}
	return 0
}
