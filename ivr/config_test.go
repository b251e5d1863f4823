package ivr

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/sip"
)

// header opens every validation case: it has nine lines, so the first
// node name of a case is on line 10 and its type on line 11.
const header = `ivr:
  default_queue: first-line
  schedules:
    always: 24/7
  calendar:
    builtin: ru
  flows:
    main:
      nodes:
`

func TestParseFlowsErrors(t *testing.T) {
	tests := []struct {
		name string
		body string // appended to header; line 10 is its first line
		want string // "hotline.yaml:LINE: ..." substring
	}{
		{
			name: "unknown node type",
			body: `        a:
          type: dance
`,
			want: `hotline.yaml:11: flow main node a: unknown node type "dance"`,
		},
		{
			name: "unknown target",
			body: `        a:
          type: play
          prompt: hotline/greeting
          next: nowhere
`,
			want: `hotline.yaml:13: flow main node a: unknown target "nowhere"`,
		},
		{
			name: "unknown menu target",
			body: `        a:
          type: menu
          prompt: hotline/menu-main
          options:
            "1": q
            "2": nowhere
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:15: flow main node a: unknown target "nowhere"`,
		},
		{
			name: "digit mapped twice",
			body: `        a:
          type: menu
          prompt: hotline/menu-main
          options:
            "1": q
            1: q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:15: flow main node a options: digit "1" mapped twice (first at line 14)`,
		},
		{
			name: "node defined twice",
			body: `        q:
          type: queue
          queue: first-line
        q:
          type: hangup
`,
			want: `hotline.yaml:13: flow main: node "q" mapped twice (first at line 10)`,
		},
		{
			name: "bad digit",
			body: `        a:
          type: menu
          prompt: hotline/menu-main
          options:
            "12": q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:14: flow main node a: option "12" is not a single digit`,
		},
		{
			name: "unreachable node",
			body: `        q:
          type: queue
          queue: first-line
        orphan:
          type: hangup
`,
			want: `hotline.yaml:13: flow main node orphan: unreachable from the flow's start "q"`,
		},
		{
			name: "loop with no way out",
			body: `        a:
          type: play
          prompt: hotline/greeting
          next: b
        b:
          type: goto
          node: a
`,
			want: `hotline.yaml:10: loop with no way out: main/a → main/b → main/a`,
		},
		{
			name: "loop without caller input",
			body: `        a:
          type: play
          prompt: hotline/greeting
          next: h
        h:
          type: hours
          schedule: always
          open: a
          closed: bye
        bye:
          type: hangup
`,
			want: `hotline.yaml:10: loop without caller input: main/a → main/h → main/a`,
		},
		{
			name: "bad pattern",
			body: `        c:
          type: collect
          prompt: hotline/greeting
          var: contract
          pattern: '(\d{6,10}'
          next: q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:14: flow main node c: bad pattern "(\\d{6,10}"`,
		},
		{
			name: "unknown key",
			body: `        q:
          type: queue
          queue: first-line
          priorty: 5
`,
			want: `hotline.yaml:13: flow main node q: unknown key "priorty" for a queue node`,
		},
		{
			name: "missing next",
			body: `        a:
          type: play
          prompt: hotline/greeting
`,
			want: `hotline.yaml:10: flow main node a: play node needs next`,
		},
		{
			name: "unknown schedule",
			body: `        h:
          type: hours
          schedule: office
          open: q
          closed: q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:12: flow main node h: unknown schedule "office"`,
		},
		{
			name: "bad duration",
			body: `        a:
          type: menu
          prompt: hotline/menu-main
          timeout: 5
          options:
            "1": q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:13: flow main node a timeout: want a positive duration`,
		},
		{
			name: "unknown language",
			body: `        l:
          type: language
          lang: de
          next: q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:12: flow main node l lang: unknown language "de"`,
		},
		{
			name: "goto unknown flow",
			body: `        g:
          type: goto
          flow: sales
`,
			want: `hotline.yaml:10: flow main node g: unknown flow "sales"`,
		},
		{
			name: "lookup branch without condition",
			body: `        l:
          type: lookup
          branches:
            - goto: q
          next: q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:13: flow main node l: branch without a condition`,
		},
		{
			name: "lookup timeout that would keep the caller waiting",
			body: `        l:
          type: lookup
          timeout: 30s
          next: q
        q:
          type: queue
          queue: first-line
`,
			want: `hotline.yaml:12: flow main node l timeout: at most 5s`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseYAML(t, header+tt.body)
			if err == nil {
				t.Fatalf("no error, want %s", tt.want)
			}
			var ce ConfigErrors
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not ConfigErrors", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant a line containing:\n%s", err, tt.want)
			}
		})
	}
}

func TestParseFlowsMaxTriesWithoutDestination(t *testing.T) {
	src := `ivr:
  flows:
    main:
      nodes:
        a:
          type: menu
          prompt: hotline/menu-main
          options:
            "1": q
        q:
          type: queue
          queue: first-line
`
	_, err := parseYAML(t, src)
	want := `hotline.yaml:5: flow main node a: no fallback after 3 tries and no ivr.default_queue`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %s", err, want)
	}
	// With a default queue the same menu is fine and falls back to it.
	f := mustParse(t, strings.Replace(src, "ivr:\n", "ivr:\n  default_queue: first-line\n", 1))
	if got := f.Flows["main"].Nodes["a"].FallbackQueue; got != "first-line" {
		t.Fatalf("FallbackQueue = %q", got)
	}
}

// catalog is a PromptChecker over a fixed set of lang/name.
type catalog map[string]bool

func (c catalog) Check(ps []sip.Prompt) error {
	var missing []string
	for _, p := range ps {
		if !c[p.String()] {
			missing = append(missing, p.String())
		}
	}
	if missing != nil {
		return errors.New("no such sound: " + strings.Join(missing, ", "))
	}
	return nil
}

func TestParseFlowsMissingPrompt(t *testing.T) {
	src := header + `        a:
          type: play
          prompt: [hotline/greeting, hotline/nope]
          next: l
        l:
          type: language
          lang: en
          next: q
        q:
          type: queue
          queue: first-line
`
	cat := catalog{"ru/hotline/greeting": true, "en/hotline/greeting": true}
	_, err := parseYAML(t, src, WithPromptChecker(cat))
	for _, want := range []string{
		`hotline.yaml:12: flow main node a: prompt "hotline/nope" (en) missing: no such sound: en/hotline/nope`,
		`hotline.yaml:12: flow main node a: prompt "hotline/nope" (ru) missing`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error:\n%v\nwant:\n%s", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), `"hotline/greeting"`) {
		t.Errorf("a present prompt was reported: %v", err)
	}
}

// TestExampleLoads loads examples/ivr-example.yaml with the generated
// custom prompts (prompts/texts.tsv) as the catalog.
func TestExampleLoads(t *testing.T) {
	src, err := os.ReadFile("../examples/ivr-example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tsv, err := os.ReadFile("../prompts/texts.tsv")
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog{}
	for _, line := range strings.Split(string(tsv), "\n") {
		name, _, _ := strings.Cut(line, "\t")
		if name != "" && !strings.HasPrefix(name, "#") {
			cat["ru/hotline/"+name], cat["en/hotline/"+name] = true, true
		}
	}
	f, err := parseYAML(t, string(src), WithPromptChecker(cat))
	if err != nil {
		t.Fatalf("example:\n%v", err)
	}
	if got := f.Names(); strings.Join(got, ",") != "support,support-office" {
		t.Errorf("flows %q", got)
	}
	menuEn := f.Flows["support"].Nodes["menu-en"]
	if menuEn.Type != NodeMenu || menuEn.Options['9'].Node != "russian" || menuEn.Fallback.Node != "first-line" {
		t.Errorf("merged menu-en = %+v", menuEn)
	}
	// Warnings at start-up: 2027 data is from secondary sources.
	w := f.Warnings(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	if len(w) != 1 || !strings.Contains(w[0], "2027") || !strings.Contains(w[0], "secondary") {
		t.Errorf("warnings %q", w)
	}
}

// TestDocExampleLoads keeps the full example in docs/ivr.md valid.
func TestDocExampleLoads(t *testing.T) {
	doc, err := os.ReadFile("../docs/ivr.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	src, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in docs/ivr.md")
	}
	f := mustParse(t, src)
	if f.Flows["support"].Nodes["contract"].Pattern.MatchString("12345") {
		t.Error("pattern should be anchored")
	}
	w := f.Warnings(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC))
	if len(w) != 1 || !strings.Contains(w[0], "2027") {
		t.Errorf("warnings %q (2028 is declared in config)", w)
	}
}
