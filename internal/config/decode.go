package config

import (
	"encoding"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// reporter collects errors and warnings and remembers the line of every
// key path seen in the file.
type reporter struct {
	file     string
	lines    map[string]int // key path → line
	errs     ErrorList
	warnings []string
	failed   map[string]bool // paths that already have an error
	steps    int             // values decoded and mapping keys walked
	budget   int             // the most steps allowed (see expansionBudget)
}

func newReporter(file string, size int) *reporter {
	return &reporter{file: file, lines: map[string]int{}, failed: map[string]bool{}, budget: expansionBudget(size)}
}

// expansionBudget bounds the work of decoding a file of size bytes. A file
// without aliases takes one step per value or key, far fewer than its
// bytes; aliases and merge keys ("<<") are followed each time they are
// used, so nested ones multiply: a 660-byte file of eleven levels of eight
// merges took exponential time and memory (FuzzParse seed merge-bomb).
// yaml.v3 limits aliasing when it decodes into Go values, but not into the
// yaml.Node tree decode walks.
func expansionBudget(size int) int { return 100_000 + 10*size }

// spend counts k steps at node n under path. When the budget runs out it
// records one error and returns false, as it does on every later call.
func (r *reporter) spend(k int, n *yaml.Node, path string) bool {
	if r.overBudget() {
		return false
	}
	r.steps += k
	if r.overBudget() {
		r.errs = append(r.errs, &Error{File: r.file, Line: n.Line, Path: path,
			Msg: fmt.Sprintf("aliases and merge keys expand the file beyond %d values; stopped reading it", r.budget)})
		return false
	}
	return true
}

func (r *reporter) overBudget() bool { return r.steps > r.budget }

// lineOf returns the line of path, or of its closest ancestor present in
// the file, or 1.
func (r *reporter) lineOf(path string) int {
	for p := path; ; {
		if l, ok := r.lines[p]; ok {
			return l
		}
		if p == "" {
			return 1
		}
		p = parentPath(p)
	}
}

// parentPath strips the last element of a key path.
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// errorAt records an error at an explicit line. Only the first error of a
// path is kept, so a malformed value does not also fail validation.
func (r *reporter) errorAt(line int, path, format string, args ...any) {
	if r.failed[path] && path != "" {
		return
	}
	r.failed[path] = true
	r.errs = append(r.errs, &Error{File: r.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// errorf records an error at the line of path.
func (r *reporter) errorf(path, format string, args ...any) {
	r.errorAt(r.lineOf(path), path, format, args...)
}

// warnf records a warning at the line of path.
func (r *reporter) warnf(path, format string, args ...any) {
	e := &Error{File: r.file, Line: r.lineOf(path), Path: path, Msg: fmt.Sprintf(format, args...)}
	r.warnings = append(r.warnings, e.Error())
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func joinKey(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func joinIndex(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

var (
	durationType = reflect.TypeFor[time.Duration]()
	nodePtrType  = reflect.TypeFor[*yaml.Node]()
	secretType   = reflect.TypeFor[Secret]()
	defaulterT   = reflect.TypeFor[defaulter]()
)

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

// decode stores node n into v (addressable), reporting problems under
// path. A YAML null leaves v unchanged, i.e. at its default.
func (r *reporter) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n == nil || !r.spend(1, n, path) {
		return
	}
	if _, ok := r.lines[path]; !ok {
		r.lines[path] = n.Line
	}
	if v.Type() == nodePtrType {
		v.Set(reflect.ValueOf(n))
		return
	}
	if isNull(n) {
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			r.errorAt(n.Line, path, "want a duration such as 20s, got %s", kindName(n))
			return
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			if n.Value == "0" {
				d = 0
			} else {
				r.errorAt(n.Line, path, "invalid duration %q (want Go syntax such as 20s, 1m30s, 24h)", n.Value)
				return
			}
		}
		if d < 0 {
			r.errorAt(n.Line, path, "duration %q must not be negative", n.Value)
			return
		}
		v.SetInt(int64(d))
		return
	}
	switch t.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			r.errorAt(n.Line, path, "want a string, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Int:
		var i int
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&i) != nil {
			r.errorAt(n.Line, path, "want an integer, got %s", kindName(n))
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			r.errorAt(n.Line, path, "want a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			r.errorAt(n.Line, path, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			r.errorAt(n.Line, path, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, 0, len(n.Content))
		for i, item := range n.Content {
			e := reflect.New(t.Elem())
			if e.Type().Implements(defaulterT) {
				e.Interface().(defaulter).setDefaults()
			}
			ip := joinIndex(path, i)
			r.lines[ip] = resolve(item).Line
			r.decode(item, e.Elem(), ip)
			s = reflect.Append(s, e.Elem())
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			r.errorAt(n.Line, path, "want a mapping, got %s", kindName(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
		r.mapping(n, path, func(key string, kn, vn *yaml.Node) {
			kp := joinKey(path, key)
			e := reflect.New(t.Elem()).Elem()
			if old := v.MapIndex(reflect.ValueOf(key)); old.IsValid() && t.Elem().Kind() != reflect.Slice {
				e.Set(old)
			}
			r.lines[kp] = kn.Line
			r.decode(vn, e, kp)
			v.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), e)
		})
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			r.errorAt(n.Line, path, "want a mapping, got %s", kindName(n))
			return
		}
		fields := structFields(t)
		r.mapping(n, path, func(key string, kn, vn *yaml.Node) {
			i, ok := fields[key]
			if !ok {
				msg := fmt.Sprintf("unknown key %q", key)
				if s := suggest(key, fields); s != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", s)
				}
				r.errs = append(r.errs, &Error{File: r.file, Line: kn.Line, Path: path, Msg: msg})
				return
			}
			kp := joinKey(path, key)
			r.lines[kp] = kn.Line
			r.decode(vn, v.Field(i), kp)
		})
	default:
		// Not reached for the types in this package.
		if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
			if err := u.UnmarshalText([]byte(n.Value)); err != nil {
				r.errorAt(n.Line, path, "%v", err)
			}
			return
		}
		r.errorAt(n.Line, path, "unsupported type %s", t)
	}
}

// mapping calls f for each key of mapping node n, following YAML merge
// keys ("<<"); explicit keys override merged ones. Non-scalar and
// duplicate keys are errors.
func (r *reporter) mapping(n *yaml.Node, path string, f func(key string, kn, vn *yaml.Node)) {
	if !r.spend(1+len(n.Content)/2, n, path) {
		return
	}
	var merges []*yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		if kn.Kind != yaml.ScalarNode {
			r.errs = append(r.errs, &Error{File: r.file, Line: kn.Line, Path: path, Msg: "mapping keys must be scalars"})
			continue
		}
		if seen[kn.Value] {
			r.errs = append(r.errs, &Error{File: r.file, Line: kn.Line, Path: path, Msg: fmt.Sprintf("duplicate key %q", kn.Value)})
			continue
		}
		seen[kn.Value] = true
	}
	for _, m := range merges {
		m = resolve(m)
		srcs := []*yaml.Node{m}
		if m.Kind == yaml.SequenceNode {
			srcs = m.Content
		}
		for _, s := range srcs {
			s = resolve(s)
			if s.Kind != yaml.MappingNode {
				r.errs = append(r.errs, &Error{File: r.file, Line: s.Line, Path: path, Msg: "merge (<<) needs a mapping"})
				continue
			}
			r.mapping(s, path, func(key string, kn, vn *yaml.Node) {
				if !seen[key] {
					f(key, kn, vn)
				}
			})
		}
	}
	done := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		if kn.Kind != yaml.ScalarNode || kn.Tag == "!!merge" || done[kn.Value] {
			continue
		}
		done[kn.Value] = true
		f(kn.Value, kn, vn)
	}
}

// structFields maps yaml tag names to field indexes, skipping "-".
func structFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		m[strings.Split(tag, ",")[0]] = i
	}
	return m
}

// suggest returns the known key closest to key, if it is close enough to
// be a typo.
func suggest(key string, fields map[string]int) string {
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if bestD > 2 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// atoiStrict parses a decimal integer without sign or spaces.
func atoiStrict(s string) (int, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	i, err := strconv.Atoi(s)
	return i, err == nil
}
