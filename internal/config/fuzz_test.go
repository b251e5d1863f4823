package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// fuzzFile is the file name the fuzz target parses under.
const fuzzFile = "fuzz.yaml"

// fileLine matches the "FILE:LINE: " that starts every error and warning.
var fileLine = regexp.MustCompile(`^` + regexp.QuoteMeta(fuzzFile) + `:([0-9]+): `)

// FuzzParse checks parse, the loader behind Load and Parse, with fuzzEnv
// (no real environment variables, directories or tzdata). A refused file gives an ErrorList of
// "fuzz.yaml:LINE: ..." problems in line order, each line within the file;
// an accepted one keeps the documented bounds (no negative durations, RTP
// ports, lines 1 or 2, rates in range, ...), prints (check-config -print:
// the redacted config as YAML) to a file that parses to the same printout,
// and parsing is deterministic. Seeds are in testdata/fuzz/FuzzParse; see
// docs/fuzzing.md.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(fuzzFile, data, fuzzEnv())
		again, err2 := parse(fuzzFile, data, fuzzEnv())
		if errString(err) != errString(err2) || (err == nil && !reflect.DeepEqual(c.Redacted(), again.Redacted())) {
			t.Fatalf("two parses differ:\n%v\n---\n%v", err, err2)
		}
		lines := yamlLines(data)
		if err != nil {
			if c != nil {
				t.Fatal("a config with an error")
			}
			checkErrors(t, err, lines)
			return
		}
		checkBounds(t, c, lines)
		out, err := yaml.Marshal(c.Redacted())
		if err != nil {
			t.Fatalf("printing: %v", err)
		}
		c2, err := parse("printed.yaml", out, fuzzEnv())
		if err != nil {
			t.Fatalf("the printed config does not parse: %v\n%s", err, out)
		}
		out2, err := yaml.Marshal(c2.Redacted())
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("printing the printed config changed it (%v):\n%s\n---\n%s", err, out, out2)
		}
	})
}

// fuzzEnv is testEnv with three time zones built in, so that the fuzzer
// never reads the system's tzdata.
func fuzzEnv() env {
	e := testEnv()
	e.loadLocation = func(name string) (*time.Location, error) {
		switch name {
		case "UTC":
			return time.UTC, nil
		case "Europe/Moscow":
			return time.FixedZone(name, 3*60*60), nil
		case "Asia/Vladivostok":
			return time.FixedZone(name, 10*60*60), nil
		}
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return e
}

// yamlLines counts the lines of data as YAML does: "\r\n", "\r", "\n" and
// the Unicode breaks NEL, LS and PS each end a line (a lone "\r" too:
// FuzzParse found an error on line 2 of "\"0\r").
func yamlLines(data []byte) int {
	n := 1
	for _, r := range strings.ReplaceAll(string(data), "\r\n", "\n") {
		switch r {
		case '\n', '\r', '\u0085', '\u2028', '\u2029':
			n++
		}
	}
	return n
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkErrors asserts the shape of a refusal.
func checkErrors(t *testing.T, err error, lines int) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error %T %q is not an ErrorList", err, err)
	}
	prev := 0
	for _, e := range list {
		if e.File != fuzzFile || e.Line < 1 || e.Line > lines || e.Msg == "" {
			t.Fatalf("error %+v: want %s, a line in 1..%d and a message", e, fuzzFile, lines)
		}
		if e.Line < prev {
			t.Fatalf("errors out of line order: %v", err)
		}
		prev = e.Line
		if m := fileLine.FindStringSubmatch(e.Error()); m == nil || m[1] != strconv.Itoa(e.Line) {
			t.Fatalf("error %q does not start with %s:%d: ", e.Error(), fuzzFile, e.Line)
		}
	}
}

// checkBounds asserts what an accepted Config promises.
func checkBounds(t *testing.T, c *Config, lines int) {
	t.Helper()
	for _, w := range append(slicesOfErrors(c.Media.Missing), c.Warnings...) {
		if m := fileLine.FindStringSubmatch(w); m == nil {
			t.Fatalf("warning %q does not start with %s:LINE: ", w, fuzzFile)
		} else if n, _ := strconv.Atoi(m[1]); n < 1 || n > lines {
			t.Fatalf("warning %q: line out of 1..%d", w, lines)
		}
	}
	if d, path := negativeDuration(reflect.ValueOf(c).Elem(), "config"); path != "" {
		t.Fatalf("%s = %v", path, d)
	}
	m := c.Media
	switch {
	case c.File != fuzzFile || c.Service.Location == nil:
		t.Fatalf("file %q, location %v", c.File, c.Service.Location)
	case c.SIP.Mode != "native" && c.SIP.Mode != "asterisk":
		t.Fatalf("sip.mode %q", c.SIP.Mode)
	case !c.SIP.ListenAddr.IsValid() || c.SIP.ListenAddr.Port() == 0 || !c.SIP.Advertise.IsValid() || c.SIP.Advertise.IsUnspecified():
		t.Fatalf("sip listen %v advertise %v", c.SIP.ListenAddr, c.SIP.Advertise)
	case m.RTPPortMin < 1024 || m.RTPPortMax > 65535 || m.RTPPortMin%2 != 0 || m.RTPPortMin >= m.RTPPortMax:
		t.Fatalf("rtp ports %d-%d", m.RTPPortMin, m.RTPPortMax)
	case len(c.SIP.Trunks) == 0 || c.SIP.RingTimeout <= 0 || c.SIP.Register.MaxExpiry < c.SIP.Register.MinExpiry:
		t.Fatalf("sip %+v", c.SIP)
	case c.Survey.Window.FromOffset >= c.Survey.Window.ToOffset || c.Survey.Window.ToOffset >= 24*time.Hour:
		t.Fatalf("survey window %+v", c.Survey.Window)
	}
	for _, a := range c.Agents {
		if a.Line != 1 && a.Line != 2 || a.SIPUser == "" || a.MaxMissed < 0 {
			t.Fatalf("agent %+v", a)
		}
		for s, l := range a.Skills {
			if l < 1 || l > 5 {
				t.Fatalf("agent %s skill %s level %d", a.ID, s, l)
			}
		}
	}
	for _, q := range c.Queues {
		if q.Line != 1 && q.Line != 2 || q.MinLevel < 1 || q.MinLevel > 5 || q.SLTarget <= 0 || q.SLTarget > 1 || q.MaxLength < 0 {
			t.Fatalf("queue %+v", q)
		}
	}
	for k, r := range c.Survey.Sampling {
		if r < 0 || r > 1 {
			t.Fatalf("survey.sampling %s = %g", k, r)
		}
	}
	if iv := c.Reporting.Intervals; iv != 0 && iv != 15*time.Minute {
		t.Fatalf("reporting.intervals %v accepted", iv)
	}
}

func slicesOfErrors(l ErrorList) []string {
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.Error()
	}
	return out
}

// negativeDuration finds a negative time.Duration in v, returning its
// path ("" when there is none).
func negativeDuration(v reflect.Value, path string) (time.Duration, string) {
	switch v.Kind() {
	case reflect.Int64:
		if v.Type() == durationType && v.Int() < 0 {
			return time.Duration(v.Int()), path
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				if d, p := negativeDuration(v.Field(i), path+"."+f.Name); p != "" {
					return d, p
				}
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if d, p := negativeDuration(v.Index(i), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return d, p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if d, p := negativeDuration(iter.Value(), path+"["+iter.Key().String()+"]"); p != "" {
				return d, p
			}
		}
	}
	return 0, ""
}

// TestFuzzParseHelpers checks that checkErrors and negativeDuration see
// what they look for.
func TestFuzzParseHelpers(t *testing.T) {
	q := Queue{Wrapup: -time.Second}
	if _, p := negativeDuration(reflect.ValueOf(Config{Queues: []Queue{{}, q}}), "config"); p != "config.Queues[1].Wrapup" {
		t.Errorf("negativeDuration path %q", p)
	}
	_, err := parse(fuzzFile, []byte("sip: {trunks: []}\nqueues: 5\n"), fuzzEnv())
	var list ErrorList
	if !errors.As(err, &list) || len(list) < 2 || !strings.HasPrefix(list[0].Error(), fuzzFile+":1: ") {
		t.Fatalf("errors: %v", err)
	}
	checkErrors(t, err, 2)
}
