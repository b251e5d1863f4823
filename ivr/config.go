package ivr

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Moscow even on hosts without zoneinfo

	"github.com/hotline-cc/hotline/sip"
	"go.yaml.in/yaml/v3"
)

// NodeType names a flow node's kind.
type NodeType string

// Node types.
const (
	NodePlay     NodeType = "play"
	NodeMenu     NodeType = "menu"
	NodeCollect  NodeType = "collect"
	NodeLanguage NodeType = "language"
	NodeHours    NodeType = "hours"
	NodeLookup   NodeType = "lookup"
	NodeQueue    NodeType = "queue"
	NodeMessage  NodeType = "message"
	NodeCallback NodeType = "callback"
	NodeGoto     NodeType = "goto"
	NodeHangup   NodeType = "hangup"
)

// terminal reports whether a node ends the IVR part of the call.
func (t NodeType) terminal() bool {
	switch t {
	case NodeQueue, NodeMessage, NodeHangup, NodeCallback:
		return true
	}
	return false
}

// takesInput reports whether a node waits for the caller.
func (t NodeType) takesInput() bool { return t == NodeMenu || t == NodeCollect }

// Defaults.
const (
	DefaultZone         = "Europe/Moscow"
	DefaultLanguage     = "ru"
	DefaultRegion       = "RU"
	DefaultMenuTimeout  = 5 * time.Second
	DefaultInterTimeout = 3 * time.Second
	DefaultTries        = 3
	DefaultLookupDays   = 30
	DefaultLookupWait   = time.Second
	// MaxLookupWait bounds a lookup node's timeout: the caller hears
	// nothing while the history is asked.
	MaxLookupWait = 5 * time.Second
)

// PromptRef is a prompt named in the config.
type PromptRef struct {
	Name    string        // sound name, e.g. "hotline/greeting" or "digits/5"
	Silence time.Duration // for "silence:500ms"
	Line    int
}

func (p PromptRef) prompt(lang string) sip.Prompt {
	if p.Name == "" {
		return sip.Prompt{Silence: p.Silence}
	}
	return sip.Prompt{Name: p.Name, Lang: lang}
}

// Target names the node a transition goes to, with the line it was written on.
type Target struct {
	Node string
	Line int
}

// Branch is one rule of a lookup node. All conditions set must hold.
type Branch struct {
	OpenEscalation *bool         // the caller has an unresolved escalation
	CalledWithin   time.Duration // the previous call arrived less than this ago
	CallsAtLeast   int           // at least this many calls in the lookup window
	LastOutcome    string        // the previous call's outcome
	Anonymous      *bool         // the caller's number is withheld or invalid
	Priority       int           // raise the call's priority to at least this
	Goto           Target        // go there; empty: keep evaluating
	Line           int
}

// Node is one step of a flow.
type Node struct {
	Name string
	Type NodeType
	Line int

	Prompts        []PromptRef // play, menu, collect, queue (before handing over), message, callback (confirmation)
	InvalidPrompts []PromptRef // menu, collect
	TimeoutPrompts []PromptRef // menu, collect
	Next           Target      // play, collect, language, lookup
	BargeIn        bool        // play (default false), menu and collect (default true)

	Options      map[rune]Target // menu: digit → node
	Timeout      time.Duration   // menu, collect: wait for the first digit; lookup: history wait
	InterTimeout time.Duration   // collect
	Tries        int             // menu, collect
	Fallback     Target          // menu, collect: after the last try; callback: when recording fails
	// FallbackQueue is the queue a menu or collect hands the call to after
	// its last try when Fallback is empty: the flow set's default_queue.
	FallbackQueue string

	Var        string         // collect: variable name
	MinDigits  int            // collect
	MaxDigits  int            // collect
	Terminator rune           // collect
	Pattern    *regexp.Regexp // collect

	Lang string // language

	Schedule     *Schedule // hours
	Open, Closed Target    // hours

	Days     int      // lookup: history window in days
	Branches []Branch // lookup

	Queue    string // queue, callback
	Priority int    // queue

	Reason   string // message, hangup, callback
	NoNumber Target // callback: where anonymous callers go

	GotoNode Target // goto: a node of the same flow
	GotoFlow string // goto: another flow's start
}

// Flow is a named graph of nodes.
type Flow struct {
	Name  string
	Start string
	Nodes map[string]*Node
	Order []string // node names in file order
	Line  int
}

// Flows is the loaded `ivr:` section.
type Flows struct {
	File         string // the config file they were read from
	Zone         *time.Location
	Region       string // phone number region for national forms
	Language     string // default prompt language
	Languages    []string
	DefaultQueue string
	Calendar     *Calendar
	Schedules    map[string]*Schedule
	Flows        map[string]*Flow
}

// Flow returns a flow by name.
func (f *Flows) Flow(name string) (*Flow, bool) {
	fl, ok := f.Flows[name]
	return fl, ok
}

// Names returns the flow names, sorted.
func (f *Flows) Names() []string {
	names := make([]string, 0, len(f.Flows))
	for n := range f.Flows {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Warnings returns start-up warnings for the operator (the lead logs them):
// production calendar coverage of the current and the coming year.
func (f *Flows) Warnings(now time.Time) []string {
	if f.Calendar == nil {
		return nil
	}
	return f.Calendar.Warnings(now.In(f.Zone))
}

// PromptChecker tells whether prompts exist (the media catalog implements
// it). Check returns an error naming what is missing.
type PromptChecker interface {
	Check(prompts []sip.Prompt) error
}

// PromptCheckerFunc adapts a function to PromptChecker.
type PromptCheckerFunc func([]sip.Prompt) error

// Check calls f.
func (f PromptCheckerFunc) Check(p []sip.Prompt) error { return f(p) }

// Option configures ParseFlows.
type Option func(*parseOptions)

type parseOptions struct {
	checker  PromptChecker
	calendar *Calendar
}

// WithPromptChecker checks every prompt named in the flows, in every
// language the flows can switch to.
func WithPromptChecker(c PromptChecker) Option { return func(o *parseOptions) { o.checker = c } }

// WithCalendar replaces the embedded Russian production calendar (tests).
func WithCalendar(c *Calendar) Option { return func(o *parseOptions) { o.calendar = c } }

// ConfigError is one problem in the config, at a line of a file.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ConfigErrors is every problem found, in line order.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// parser collects errors while walking the YAML tree.
type parser struct {
	file string
	errs ConfigErrors
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		return resolve(n.Content[0])
	}
	return n
}

type kv struct{ k, v *yaml.Node }

// mapping returns the pairs of a mapping node, reporting duplicate keys
// (dup names what is duplicated, e.g. "node" or "digit") and keys not in
// known (when known is non-nil). YAML merge keys (<<: *anchor) are
// expanded; explicit keys win over merged ones.
func (p *parser) mapping(n *yaml.Node, what, dup string, known ...string) []kv {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		p.errorf(n.Line, "%s: want a mapping", what)
		return nil
	}
	seen := map[string]int{}
	var out, merged []kv
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Tag == "!!merge" {
			var srcs []*yaml.Node
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			} else {
				srcs = []*yaml.Node{v}
			}
			for _, src := range srcs {
				src = resolve(src)
				if src.Kind != yaml.MappingNode {
					p.errorf(k.Line, "%s: merge: want a mapping", what)
					continue
				}
				for j := 0; j+1 < len(src.Content); j += 2 {
					merged = append(merged, kv{resolve(src.Content[j]), resolve(src.Content[j+1])})
				}
			}
			continue
		}
		if first, ok := seen[k.Value]; ok {
			p.errorf(k.Line, "%s: %s %q mapped twice (first at line %d)", what, dup, k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			p.errorf(k.Line, "%s: unknown key %q (want one of %s)", what, k.Value, strings.Join(known, ", "))
			continue
		}
		out = append(out, kv{k, v})
	}
	for _, e := range merged {
		if _, ok := seen[e.k.Value]; ok {
			continue
		}
		seen[e.k.Value] = e.k.Line
		if known != nil && !slices.Contains(known, e.k.Value) {
			p.errorf(e.k.Line, "%s: unknown key %q (want one of %s)", what, e.k.Value, strings.Join(known, ", "))
			continue
		}
		out = append(out, e)
	}
	return out
}

func (p *parser) str(n *yaml.Node, what string) string {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode {
		p.errorf(n.Line, "%s: want a string", what)
		return ""
	}
	return n.Value
}

func (p *parser) integer(n *yaml.Node, what string, min int) int {
	n = resolve(n)
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		p.errorf(n.Line, "%s: want an integer", what)
		return 0
	}
	if v < min {
		p.errorf(n.Line, "%s: must be at least %d", what, min)
	}
	return v
}

func (p *parser) boolean(n *yaml.Node, what string) bool {
	n = resolve(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		p.errorf(n.Line, "%s: want true or false", what)
	}
	return b
}

func (p *parser) duration(n *yaml.Node, what string) time.Duration {
	n = resolve(n)
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d <= 0 {
		p.errorf(n.Line, "%s: want a positive duration such as 5s or 1h", what)
		return 0
	}
	return d
}

func (p *parser) target(n *yaml.Node, what string) Target {
	return Target{Node: p.str(n, what), Line: resolve(n).Line}
}

// prompts accepts one name or a list; "silence:500ms" plays silence.
func (p *parser) prompts(n *yaml.Node, what string) []PromptRef {
	n = resolve(n)
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		p.errorf(n.Line, "%s: want a prompt name or a list of them", what)
		return nil
	}
	var out []PromptRef
	for _, it := range items {
		name := strings.TrimSpace(p.str(it, what))
		line := resolve(it).Line
		if d, ok := strings.CutPrefix(name, "silence:"); ok {
			dur, err := time.ParseDuration(d)
			if err != nil || dur <= 0 {
				p.errorf(line, "%s: bad silence %q", what, name)
				continue
			}
			out = append(out, PromptRef{Silence: dur, Line: line})
			continue
		}
		if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") {
			p.errorf(line, "%s: bad prompt name %q", what, name)
			continue
		}
		out = append(out, PromptRef{Name: name, Line: line})
	}
	if len(items) == 0 {
		p.errorf(n.Line, "%s: empty prompt list", what)
	}
	return out
}

// ParseFlows loads the `ivr:` section of the config from node (a mapping;
// a document node is unwrapped). filename is used in error messages, which
// name the line of each problem. The returned error is a ConfigErrors.
func ParseFlows(filename string, node *yaml.Node, opts ...Option) (*Flows, error) {
	var o parseOptions
	for _, opt := range opts {
		opt(&o)
	}
	p := &parser{file: filename}
	f := &Flows{
		File:      filename,
		Region:    DefaultRegion,
		Language:  DefaultLanguage,
		Schedules: map[string]*Schedule{},
		Flows:     map[string]*Flow{},
	}
	f.Zone, _ = time.LoadLocation(DefaultZone)
	root := resolve(node)
	if root == nil {
		return nil, ConfigErrors{{File: filename, Line: 0, Msg: "ivr: missing section"}}
	}

	var schedulesNode, flowsNode, calendarNode *yaml.Node
	for _, e := range p.mapping(root, "ivr", "key", "timezone", "region", "language", "languages", "default_queue", "calendar", "schedules", "flows") {
		switch e.k.Value {
		case "timezone":
			name := p.str(e.v, "ivr.timezone")
			loc, err := time.LoadLocation(name)
			if err != nil {
				p.errorf(e.v.Line, "ivr.timezone: unknown zone %q", name)
			} else {
				f.Zone = loc
			}
		case "region":
			f.Region = strings.ToUpper(p.str(e.v, "ivr.region"))
		case "language":
			f.Language = p.lang(e.v, "ivr.language")
		case "languages":
			v := resolve(e.v)
			if v.Kind != yaml.SequenceNode {
				p.errorf(v.Line, "ivr.languages: want a list such as [ru, en]")
				break
			}
			for _, l := range v.Content {
				f.Languages = append(f.Languages, p.lang(l, "ivr.languages"))
			}
		case "default_queue":
			f.DefaultQueue = p.str(e.v, "ivr.default_queue")
		case "calendar":
			calendarNode = e.v
		case "schedules":
			schedulesNode = e.v
		case "flows":
			flowsNode = e.v
		}
	}

	f.Calendar = o.calendar
	builtin := true
	var years []int
	if calendarNode != nil {
		builtin, years = p.calendarConfig(calendarNode)
	}
	if f.Calendar == nil {
		f.Calendar = &Calendar{days: map[Date]CalendarDay{}, years: map[int]string{}}
		if builtin {
			cal, err := LoadRussianCalendar()
			if err != nil {
				p.errorf(root.Line, "ivr: embedded production calendar: %v", err)
			} else {
				f.Calendar = cal
			}
		}
	}
	if calendarNode != nil {
		p.calendarDates(f, calendarNode)
		for _, y := range years {
			f.Calendar.years[y] = StatusConfig
		}
	}

	for _, e := range p.mapping(schedulesNode, "ivr.schedules", "schedule") {
		if s := p.schedule(f, e.k.Value, e.v); s != nil {
			f.Schedules[e.k.Value] = s
		}
	}
	if flowsNode == nil {
		p.errorf(root.Line, "ivr: no flows")
	}
	for _, e := range p.mapping(flowsNode, "ivr.flows", "flow") {
		if fl := p.flow(f, e.k.Value, e.k.Line, e.v); fl != nil {
			f.Flows[e.k.Value] = fl
		}
	}
	if len(p.errs) == 0 {
		p.checkGraph(f)
	}
	if len(p.errs) == 0 && o.checker != nil {
		p.checkPrompts(f, o.checker)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *ConfigError) int { return cmp.Compare(a.Line, b.Line) })
		return nil, p.errs
	}
	return f, nil
}

func (p *parser) lang(n *yaml.Node, what string) string {
	l := p.str(n, what)
	if l != "ru" && l != "en" {
		p.errorf(resolve(n).Line, "%s: unknown language %q (want ru or en)", what, l)
	}
	return l
}

// calendarConfig reads calendar.builtin and calendar.years: whether the
// embedded calendar is wanted, and the years config describes itself.
func (p *parser) calendarConfig(n *yaml.Node) (builtin bool, years []int) {
	builtin = true
	for _, e := range p.mapping(n, "ivr.calendar", "key", "builtin", "dates", "years") {
		switch e.k.Value {
		case "builtin":
			switch v := p.str(e.v, "ivr.calendar.builtin"); v {
			case "ru":
			case "none":
				builtin = false
			default:
				p.errorf(e.v.Line, "ivr.calendar.builtin: want ru or none, not %q", v)
			}
		case "years":
			v := resolve(e.v)
			if v.Kind != yaml.SequenceNode {
				p.errorf(v.Line, "ivr.calendar.years: want a list of years")
				continue
			}
			for _, y := range v.Content {
				years = append(years, p.integer(y, "ivr.calendar.years", 2000))
			}
		}
	}
	return builtin, years
}

func (p *parser) calendarDates(f *Flows, n *yaml.Node) {
	for _, e := range p.mapping(n, "ivr.calendar", "key", "builtin", "dates", "years") {
		if e.k.Value != "dates" {
			continue
		}
		for _, d := range p.mapping(e.v, "ivr.calendar.dates", "date") {
			date, err := ParseDate(d.k.Value)
			if err != nil {
				p.errorf(d.k.Line, "ivr.calendar.dates: %v", err)
				continue
			}
			spec := p.str(d.v, "ivr.calendar.dates")
			day, err := parseDaySpec(strings.Fields(spec + " "))
			if spec == "" || err != nil {
				p.errorf(d.v.Line, "ivr.calendar.dates: %s: want holiday, off, work [mon..fri] [short], short or normal", date)
				continue
			}
			day.Note = "config"
			f.Calendar.Set(date, day)
		}
	}
}

// schedule reads either "24/7" or a mapping with weekly, exceptions,
// calendar, shorten_preholiday and timezone.
func (p *parser) schedule(f *Flows, name string, n *yaml.Node) *Schedule {
	n = resolve(n)
	what := "schedule " + name
	s := &Schedule{Name: name, Zone: f.Zone, Calendar: f.Calendar, Exceptions: map[Date][]Span{}}
	if n.Kind == yaml.ScalarNode {
		if n.Value != "24/7" {
			p.errorf(n.Line, "%s: want 24/7 or a mapping with weekly hours", what)
			return nil
		}
		s.Always = true
		return s
	}
	weekly := false
	for _, e := range p.mapping(n, what, "key", "weekly", "exceptions", "calendar", "shorten_preholiday", "timezone") {
		switch e.k.Value {
		case "weekly":
			weekly = true
			set := map[time.Weekday]int{}
			for _, d := range p.mapping(e.v, what+" weekly", "day") {
				days, err := parseWeekdays(d.k.Value)
				if err != nil {
					p.errorf(d.k.Line, "%s: %v", what, err)
					continue
				}
				spans, err := parseSpans(p.str(d.v, what))
				if err != nil {
					p.errorf(d.v.Line, "%s: %v", what, err)
					continue
				}
				for _, wd := range days {
					if first, ok := set[wd]; ok {
						p.errorf(d.k.Line, "%s: %s already has hours (line %d)", what, strings.ToLower(wd.String()[:3]), first)
					}
					set[wd] = d.k.Line
					s.Weekly[wd] = spans
				}
			}
		case "exceptions":
			for _, d := range p.mapping(e.v, what+" exceptions", "date") {
				date, err := ParseDate(d.k.Value)
				if err != nil {
					p.errorf(d.k.Line, "%s: %v", what, err)
					continue
				}
				spans, err := parseSpans(p.str(d.v, what))
				if err != nil {
					p.errorf(d.v.Line, "%s: %v", what, err)
					continue
				}
				s.Exceptions[date] = spans
			}
		case "calendar":
			switch v := p.str(e.v, what+" calendar"); v {
			case "ru", "default":
			case "none":
				s.Calendar = nil
			default:
				p.errorf(e.v.Line, "%s: calendar: want ru or none, not %q", what, v)
			}
		case "shorten_preholiday":
			s.ShortenPreholiday = p.boolean(e.v, what+" shorten_preholiday")
		case "timezone":
			loc, err := time.LoadLocation(p.str(e.v, what+" timezone"))
			if err != nil {
				p.errorf(e.v.Line, "%s: unknown zone %q", what, e.v.Value)
			} else {
				s.Zone = loc
			}
		}
	}
	if !weekly {
		p.errorf(n.Line, "%s: no weekly hours (use 24/7 for always open)", what)
	}
	return s
}

var nodeKeys = map[NodeType][]string{
	NodePlay:     {"type", "prompt", "prompts", "next", "barge_in"},
	NodeMenu:     {"type", "prompt", "prompts", "options", "invalid_prompt", "timeout_prompt", "timeout", "tries", "fallback", "barge_in"},
	NodeCollect:  {"type", "prompt", "prompts", "var", "min_digits", "max_digits", "terminator", "pattern", "timeout", "inter_timeout", "tries", "invalid_prompt", "timeout_prompt", "next", "fallback", "barge_in"},
	NodeLanguage: {"type", "lang", "next"},
	NodeHours:    {"type", "schedule", "open", "closed"},
	NodeLookup:   {"type", "days", "timeout", "branches", "next"},
	NodeQueue:    {"type", "queue", "priority", "prompt", "prompts"},
	NodeMessage:  {"type", "prompt", "prompts", "reason"},
	NodeCallback: {"type", "queue", "prompt", "prompts", "reason", "no_number", "fallback"},
	NodeGoto:     {"type", "node", "flow"},
	NodeHangup:   {"type", "reason"},
}

var varName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (p *parser) flow(f *Flows, name string, line int, n *yaml.Node) *Flow {
	fl := &Flow{Name: name, Nodes: map[string]*Node{}, Line: line}
	what := "flow " + name
	var startLine int
	for _, e := range p.mapping(n, what, "key", "start", "nodes") {
		switch e.k.Value {
		case "start":
			fl.Start, startLine = p.str(e.v, what+" start"), e.v.Line
		case "nodes":
			for _, ne := range p.mapping(e.v, what, "node") {
				if nd := p.node(f, name, ne.k, ne.v); nd != nil {
					fl.Nodes[nd.Name] = nd
					fl.Order = append(fl.Order, nd.Name)
				}
			}
		}
	}
	if len(fl.Order) == 0 {
		p.errorf(line, "%s: no nodes", what)
		return fl
	}
	if fl.Start == "" {
		fl.Start = fl.Order[0]
	} else if _, ok := fl.Nodes[fl.Start]; !ok {
		p.errorf(startLine, "%s: start: unknown node %q", what, fl.Start)
	}
	return fl
}

func (p *parser) node(f *Flows, flow string, k, v *yaml.Node) *Node {
	nd := &Node{Name: k.Value, Line: k.Line, Tries: DefaultTries, Timeout: DefaultMenuTimeout, InterTimeout: DefaultInterTimeout}
	what := fmt.Sprintf("flow %s node %s", flow, nd.Name)
	v = resolve(v)
	if v.Kind != yaml.MappingNode {
		p.errorf(v.Line, "%s: want a mapping with a type", what)
		return nil
	}
	// Find the type first: it decides which keys are allowed.
	pairs := p.mapping(v, what, "key")
	if len(p.errs) > 0 && len(pairs) == 0 {
		return nil
	}
	for _, e := range pairs {
		if e.k.Value == "type" {
			nd.Type = NodeType(e.v.Value)
			if _, ok := nodeKeys[nd.Type]; !ok {
				p.errorf(e.v.Line, "%s: unknown node type %q (want play, menu, collect, language, hours, lookup, queue, message, callback, goto or hangup)", what, e.v.Value)
				return nil
			}
		}
	}
	if nd.Type == "" {
		p.errorf(k.Line, "%s: missing type", what)
		return nil
	}
	nd.BargeIn = nd.Type.takesInput()
	if nd.Type == NodeLookup {
		nd.Days, nd.Timeout = DefaultLookupDays, DefaultLookupWait
	}
	has := map[string]int{}
	for _, e := range pairs {
		if !slices.Contains(nodeKeys[nd.Type], e.k.Value) {
			p.errorf(e.k.Line, "%s: unknown key %q for a %s node (want one of %s)", what, e.k.Value, nd.Type, strings.Join(nodeKeys[nd.Type], ", "))
			continue
		}
		has[e.k.Value] = e.k.Line
		switch e.k.Value {
		case "type":
		case "prompt", "prompts":
			if _, dup := has["prompt"]; dup && e.k.Value == "prompts" {
				p.errorf(e.k.Line, "%s: both prompt and prompts", what)
			}
			nd.Prompts = p.prompts(e.v, what)
		case "invalid_prompt":
			nd.InvalidPrompts = p.prompts(e.v, what)
		case "timeout_prompt":
			nd.TimeoutPrompts = p.prompts(e.v, what)
		case "next":
			nd.Next = p.target(e.v, what)
		case "fallback":
			nd.Fallback = p.target(e.v, what)
		case "no_number":
			nd.NoNumber = p.target(e.v, what)
		case "open":
			nd.Open = p.target(e.v, what)
		case "closed":
			nd.Closed = p.target(e.v, what)
		case "barge_in":
			nd.BargeIn = p.boolean(e.v, what+" barge_in")
		case "options":
			nd.Options = map[rune]Target{}
			for _, o := range p.mapping(e.v, what+" options", "digit") {
				d := o.k.Value
				if len(d) != 1 || !strings.ContainsRune("0123456789*#", rune(d[0])) {
					p.errorf(o.k.Line, "%s: option %q is not a single digit 0-9, * or # (quote * and #)", what, d)
					continue
				}
				nd.Options[rune(d[0])] = p.target(o.v, what)
			}
		case "timeout":
			nd.Timeout = p.duration(e.v, what+" timeout")
			if nd.Type == NodeLookup && nd.Timeout > MaxLookupWait {
				p.errorf(resolve(e.v).Line, "%s timeout: at most %s (the caller waits in silence while the history is asked)", what, MaxLookupWait)
			}
		case "inter_timeout":
			nd.InterTimeout = p.duration(e.v, what+" inter_timeout")
		case "tries":
			nd.Tries = p.integer(e.v, what+" tries", 1)
		case "var":
			nd.Var = p.str(e.v, what+" var")
			if !varName.MatchString(nd.Var) {
				p.errorf(e.v.Line, "%s: var %q: want lower-case letters, digits and _", what, nd.Var)
			}
		case "min_digits":
			nd.MinDigits = p.integer(e.v, what+" min_digits", 1)
		case "max_digits":
			nd.MaxDigits = p.integer(e.v, what+" max_digits", 1)
		case "terminator":
			t := p.str(e.v, what+" terminator")
			if len(t) != 1 || !strings.ContainsRune("*#", rune(t[0])) {
				p.errorf(e.v.Line, "%s: terminator: want \"#\" or \"*\"", what)
			} else {
				nd.Terminator = rune(t[0])
			}
		case "pattern":
			src := p.str(e.v, what+" pattern")
			re, err := regexp.Compile(`^(?:` + src + `)$`)
			if err != nil {
				p.errorf(e.v.Line, "%s: bad pattern %q: %v", what, src, errors.Unwrap(err))
			} else {
				nd.Pattern = re
			}
		case "lang":
			nd.Lang = p.lang(e.v, what+" lang")
		case "schedule":
			name := p.str(e.v, what+" schedule")
			if s, ok := f.Schedules[name]; ok {
				nd.Schedule = s
			} else {
				p.errorf(e.v.Line, "%s: unknown schedule %q", what, name)
			}
		case "days":
			nd.Days = p.integer(e.v, what+" days", 1)
		case "branches":
			nd.Branches = p.branches(e.v, what)
		case "queue":
			nd.Queue = p.str(e.v, what+" queue")
		case "priority":
			nd.Priority = p.integer(e.v, what+" priority", 0)
		case "reason":
			nd.Reason = p.str(e.v, what+" reason")
		case "node":
			nd.GotoNode = p.target(e.v, what)
		case "flow":
			nd.GotoFlow = p.str(e.v, what+" flow")
		}
	}
	require := func(key string) {
		if _, ok := has[key]; !ok {
			p.errorf(k.Line, "%s: %s node needs %s", what, nd.Type, key)
		}
	}
	switch nd.Type {
	case NodePlay:
		require("next")
		if nd.Prompts == nil {
			require("prompt")
		}
	case NodeMenu:
		require("options")
		if nd.Prompts == nil {
			require("prompt")
		}
	case NodeCollect:
		require("var")
		require("next")
		if nd.Prompts == nil {
			require("prompt")
		}
		if nd.MaxDigits == 0 {
			nd.MaxDigits = 20
		}
		if nd.MinDigits == 0 {
			nd.MinDigits = 1
		}
		if nd.MinDigits > nd.MaxDigits {
			p.errorf(k.Line, "%s: min_digits %d > max_digits %d", what, nd.MinDigits, nd.MaxDigits)
		}
	case NodeLanguage:
		require("lang")
		require("next")
	case NodeHours:
		require("schedule")
		require("open")
		require("closed")
	case NodeLookup:
		require("next")
	case NodeQueue:
		require("queue")
	case NodeMessage:
		if nd.Prompts == nil {
			require("prompt")
		}
		require("reason")
	case NodeCallback:
		if nd.Prompts == nil {
			require("prompt")
		}
		if nd.Reason == "" {
			nd.Reason = "callback"
		}
		if nd.Queue == "" && f.DefaultQueue == "" {
			p.errorf(k.Line, "%s: callback node needs queue (or ivr.default_queue): the queue to call back for, and where anonymous callers go", what)
		}
	case NodeGoto:
		if (nd.GotoNode.Node == "") == (nd.GotoFlow == "") {
			p.errorf(k.Line, "%s: goto needs exactly one of node or flow", what)
		}
	case NodeHangup:
		if nd.Reason == "" {
			nd.Reason = "hangup"
		}
	}
	if (nd.Type == NodeMenu || nd.Type == NodeCollect) && nd.Fallback.Node == "" {
		if f.DefaultQueue == "" {
			p.errorf(k.Line, "%s: no fallback after %d tries and no ivr.default_queue: the caller would be dropped; add fallback: <node>", what, nd.Tries)
		}
		nd.FallbackQueue = f.DefaultQueue
	}
	return nd
}

func (p *parser) branches(n *yaml.Node, what string) []Branch {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n.Line, "%s: branches: want a list", what)
		return nil
	}
	var out []Branch
	for _, it := range n.Content {
		b := Branch{Line: resolve(it).Line}
		conds := 0
		for _, e := range p.mapping(it, what+" branch", "key", "open_escalation", "called_within", "calls_at_least", "last_outcome", "anonymous", "priority", "goto") {
			switch e.k.Value {
			case "open_escalation":
				v := p.boolean(e.v, what+" open_escalation")
				b.OpenEscalation, conds = &v, conds+1
			case "anonymous":
				v := p.boolean(e.v, what+" anonymous")
				b.Anonymous, conds = &v, conds+1
			case "called_within":
				b.CalledWithin, conds = p.duration(e.v, what+" called_within"), conds+1
			case "calls_at_least":
				b.CallsAtLeast, conds = p.integer(e.v, what+" calls_at_least", 1), conds+1
			case "last_outcome":
				b.LastOutcome, conds = p.str(e.v, what+" last_outcome"), conds+1
			case "priority":
				b.Priority = p.integer(e.v, what+" priority", 0)
			case "goto":
				b.Goto = p.target(e.v, what)
			}
		}
		if conds == 0 {
			p.errorf(b.Line, "%s: branch without a condition (use next for the default)", what)
		}
		if b.Goto.Node == "" && b.Priority == 0 {
			p.errorf(b.Line, "%s: branch does nothing: give goto, priority or both", what)
		}
		out = append(out, b)
	}
	return out
}
