package main

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestRunStaffingText(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // substrings of stdout
	}{
		{
			name: "issue 8 worked example, Erlang C",
			args: []string{"-calls", "100", "-interval", "30m", "-aht", "180s", "-target", "80/20"},
			want: []string{"Erlang C", "10.00 Erlangs", "agents needed:          14", "88.8% within 20s",
				"ASA:                    7.8s", "occupancy:              71.4%", "probability of waiting: 17.4%"},
		},
		{
			name: "Erlang A with patience",
			args: []string{"-calls", "100", "-interval", "30m", "-aht", "180s", "-target", "80/20", "-patience", "120s"},
			want: []string{"Erlang A", "mean patience 2m0s", "agents needed:          12", "82.6% within 20s (offered)",
				"answered formula:     88.0%", "removed formula:      86.0%", "abandonment:            6.2%"},
		},
		{
			name: "Erlang A, answered formula, short abandons",
			args: []string{"-calls", "100", "-aht", "3m", "-patience", "2m", "-formula", "answered", "-short-abandon", "5s"},
			want: []string{"answered formula", "agents needed:", "abandonment:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runStaffing(tc.args, &out, &errb); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if errb.Len() != 0 {
				t.Errorf("stderr not empty: %q", errb.String())
			}
		})
	}
}

func TestRunStaffingJSON(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		model   string
		agents  int
		sl      float64
		abandon bool
	}{
		{"erlang c", []string{"-calls", "100", "-aht", "180s", "-json"}, "erlang-c", 14, 0.88835, false},
		{"erlang a", []string{"-calls", "100", "-aht", "180s", "-patience", "2m", "-json"}, "erlang-a", 12, 0.82558, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runStaffing(tc.args, &out, &errb); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			var got map[string]any
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			for _, key := range []string{"model", "calls", "interval_seconds", "aht_seconds", "patience_seconds",
				"erlangs", "target", "agents", "service_level", "service_levels", "asa_seconds", "occupancy",
				"probability_of_waiting", "abandonment"} {
				if _, ok := got[key]; !ok {
					t.Errorf("JSON lacks %q", key)
				}
			}
			if got["model"] != tc.model || got["agents"] != float64(tc.agents) {
				t.Errorf("model %v agents %v, want %s %d", got["model"], got["agents"], tc.model, tc.agents)
			}
			if sl, _ := got["service_level"].(float64); math.Abs(sl-tc.sl) > 1e-5 {
				t.Errorf("service_level %v, want %v", sl, tc.sl)
			}
			if ab, _ := got["abandonment"].(float64); (ab > 0) != tc.abandon {
				t.Errorf("abandonment %v", ab)
			}
			target, _ := got["target"].(map[string]any)
			if target["service_level"] != 0.8 || target["threshold_seconds"] != 20.0 || target["formula"] != "offered" {
				t.Errorf("target %v", target)
			}
			levels, _ := got["service_levels"].(map[string]any)
			for _, f := range []string{"answered", "offered", "removed"} {
				if _, ok := levels[f].(float64); !ok {
					t.Errorf("service_levels lacks %s: %v", f, levels)
				}
			}
		})
	}
}

func TestRunStaffingBadArguments(t *testing.T) {
	ok := []string{"-calls", "100", "-aht", "180s"}
	with := func(extra ...string) []string { return append(append([]string{}, ok...), extra...) }
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"no arguments", nil, "-calls is required"},
		{"missing aht", []string{"-calls", "100"}, "-aht is required"},
		{"calls not a number", []string{"-calls", "many", "-aht", "180s"}, "invalid value"},
		{"negative calls", []string{"-calls", "-5", "-aht", "180s"}, "-calls"},
		{"NaN calls", []string{"-calls", "NaN", "-aht", "180s"}, "-calls"},
		{"zero aht", []string{"-calls", "100", "-aht", "0s"}, "-aht"},
		{"aht without unit", []string{"-calls", "100", "-aht", "180"}, "invalid value"},
		{"zero interval", with("-interval", "0"), "-interval"},
		{"negative interval", with("-interval", "-30m"), "-interval"},
		{"target without slash", with("-target", "80"), "-target"},
		{"target 100%", with("-target", "100/20"), "below 100%"},
		{"target 0%", with("-target", "0/20"), "above 0%"},
		{"target bad threshold", with("-target", "80/soon"), "-target"},
		{"negative patience", with("-patience", "-1s"), "-patience"},
		{"bad formula", with("-patience", "1m", "-formula", "best"), "-formula"},
		{"negative short abandon", with("-short-abandon", "-2s"), "-short-abandon"},
		{"unknown flag", with("-agents", "3"), "flag provided but not defined"},
		{"stray argument", with("now"), "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := runStaffing(tc.args, &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2 (stderr %q)", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.msg) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.msg)
			}
			if out.Len() != 0 {
				t.Errorf("stdout not empty: %q", out.String())
			}
		})
	}
}

func TestRunStaffingHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runStaffing([]string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(errb.String(), "usage: hotline staffing") {
		t.Errorf("help: %q", errb.String())
	}
}
