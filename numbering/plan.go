package numbering

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a problem in a registry file, at a line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// Info is what the registry says about a number's range.
type Info struct {
	Operator string
	Region   string
	// Zones are the region's IANA zones, sorted: one for most regions,
	// several for a region spanning zones, nil when the region is not
	// recognised (see ZonesOf).
	Zones []string
}

// rng is one range of national (10-digit) numbers.
type rng struct {
	from, to uint64
	info     int32 // index into Plan.infos
	file     int32 // index into Plan.files
	line     int32
}

// Plan is a loaded numbering plan. It is read-only and safe for
// concurrent use.
type Plan struct {
	ranges []rng    // sorted by from, not overlapping
	froms  []uint64 // ranges[i].from: the binary search reads only these
	infos  []Info
	files  []string
}

// Len returns the number of ranges.
func (p *Plan) Len() int { return len(p.ranges) }

// Unrecognised returns the distinct region names no zone was found for,
// sorted (for a start-up warning).
func (p *Plan) Unrecognised() []string {
	var out []string
	for _, in := range p.infos {
		if in.Zones == nil {
			out = append(out, in.Region)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Lookup returns the range of an E.164 number of the +7 plan (+7 and ten
// digits) and false when the number is not one or no range holds it.
func (p *Plan) Lookup(e164 string) (Info, bool) {
	n, ok := national(e164)
	if !ok || p == nil {
		return Info{}, false
	}
	// The last range starting at or before n.
	i, found := slices.BinarySearch(p.froms, n)
	if !found {
		i--
	}
	if i < 0 || n > p.ranges[i].to {
		return Info{}, false
	}
	return p.infos[p.ranges[i].info], true
}

// national returns the ten digits after +7 as a number.
func national(e164 string) (uint64, bool) {
	if len(e164) != 12 || !strings.HasPrefix(e164, "+7") {
		return 0, false
	}
	var n uint64
	for i := 2; i < 12; i++ {
		c := e164[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// Load reads registry files (as published: ABC-3xx.csv, ABC-4xx.csv,
// ABC-8xx.csv, DEF-9xx.csv, in UTF-8 or Windows-1251, with or without the
// header line) into one plan. A malformed line, or a range overlapping
// another, is an *Error naming the file and line.
func Load(paths ...string) (*Plan, error) {
	b := &builder{p: &Plan{}, infoIdx: map[[2]string]int32{}}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("numbering plan: %w", err)
		}
		if err := b.parse(path, data); err != nil {
			return nil, err
		}
	}
	return b.finish()
}

// Parse reads one registry file's contents; name is used in errors.
func Parse(name string, data []byte) (*Plan, error) {
	b := &builder{p: &Plan{}, infoIdx: map[[2]string]int32{}}
	if err := b.parse(name, data); err != nil {
		return nil, err
	}
	return b.finish()
}

type builder struct {
	p       *Plan
	infoIdx map[[2]string]int32 // operator, region → info
}

// columns are the indexes of the fields the plan needs.
type columns struct{ code, from, to, capacity, operator, region, n int }

// defaultColumns is the layout when a file has no header line:
// code;from;to;capacity;operator;region;INN.
var defaultColumns = columns{0, 1, 2, 3, 4, 5, 7}

// headerColumns reads the layout from a header such as
// "АВС/ DEF;От;До;Емкость;Оператор;Регион;Территория ГАР;ИНН".
func headerColumns(fields []string) (columns, error) {
	c := columns{code: 0, from: -1, to: -1, capacity: -1, operator: -1, region: -1, n: len(fields)}
	for i, f := range fields {
		switch strings.ReplaceAll(strings.ToLower(f), "ё", "е") {
		case "от":
			c.from = i
		case "до":
			c.to = i
		case "емкость":
			c.capacity = i
		case "оператор":
			c.operator = i
		case "регион":
			c.region = i
		}
	}
	for _, x := range []struct {
		i    int
		name string
	}{{c.from, "От"}, {c.to, "До"}, {c.capacity, "Емкость"}, {c.operator, "Оператор"}, {c.region, "Регион"}} {
		if x.i < 0 {
			return c, fmt.Errorf("header has no column %q (want АВС/ DEF;От;До;Емкость;Оператор;Регион;...;ИНН)", x.name)
		}
	}
	return c, nil
}

func (b *builder) parse(name string, data []byte) error {
	data = bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF"))
	text := ""
	if utf8.Valid(data) {
		text = string(data)
	} else {
		text = decodeCP1251(data)
	}
	file := int32(len(b.p.files))
	b.p.files = append(b.p.files, name)
	cols := columns{n: -1}
	for lineNo, line := range strings.Split(text, "\n") {
		lineNo++
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Split(line, ";")
		for i := range fields {
			fields[i] = unquote(strings.TrimSpace(fields[i]))
		}
		fail := func(format string, args ...any) error {
			return &Error{File: name, Line: lineNo, Msg: fmt.Sprintf(format, args...)}
		}
		if cols.n < 0 {
			if !allDigits(fields[0]) {
				c, err := headerColumns(fields)
				if err != nil {
					return fail("%v", err)
				}
				cols = c
				continue
			}
			cols = defaultColumns
		}
		if len(fields) != cols.n && !(cols == defaultColumns && len(fields) >= 6 && len(fields) <= 8) {
			return fail("%d fields, want %d (code;from;to;capacity;operator;region;...)", len(fields), cols.n)
		}
		code := fields[cols.code]
		if len(code) != 3 || !allDigits(code) {
			return fail("code %q is not three digits", code)
		}
		from, err1 := number7(fields[cols.from])
		to, err2 := number7(fields[cols.to])
		switch {
		case err1 != nil:
			return fail("from: %v", err1)
		case err2 != nil:
			return fail("to: %v", err2)
		case from > to:
			return fail("from %s is after to %s", fields[cols.from], fields[cols.to])
		}
		capacity, err := strconv.ParseUint(fields[cols.capacity], 10, 64)
		if err != nil {
			return fail("capacity %q is not a number", fields[cols.capacity])
		}
		if capacity != to-from+1 {
			return fail("capacity %d does not match the range %s–%s (%d numbers)", capacity, fields[cols.from], fields[cols.to], to-from+1)
		}
		region := fields[cols.region]
		if region == "" {
			return fail("no region")
		}
		c, _ := strconv.ParseUint(code, 10, 64)
		base := c * 10_000_000
		b.p.ranges = append(b.p.ranges, rng{
			from: base + from, to: base + to, info: b.info(fields[cols.operator], region), file: file, line: int32(lineNo),
		})
	}
	return nil
}

func (b *builder) info(operator, region string) int32 {
	k := [2]string{operator, region}
	if i, ok := b.infoIdx[k]; ok {
		return i
	}
	i := int32(len(b.p.infos))
	b.p.infos = append(b.p.infos, Info{Operator: operator, Region: region, Zones: ZonesOf(region)})
	b.infoIdx[k] = i
	return i
}

// finish sorts the ranges and refuses overlaps.
func (b *builder) finish() (*Plan, error) {
	p := b.p
	slices.SortStableFunc(p.ranges, func(a, b rng) int { return cmp.Compare(a.from, b.from) })
	p.froms = make([]uint64, len(p.ranges))
	for i, r := range p.ranges {
		p.froms[i] = r.from
	}
	for i := 1; i < len(p.ranges); i++ {
		a, c := p.ranges[i-1], p.ranges[i]
		if c.from <= a.to {
			return nil, &Error{File: p.files[c.file], Line: int(c.line),
				Msg: fmt.Sprintf("range +7%010d–+7%010d overlaps the range at %s:%d", c.from, c.to, p.files[a.file], a.line)}
		}
	}
	return p, nil
}

// number7 parses a 1 to 7 digit subscriber number.
func number7(s string) (uint64, error) {
	if s == "" || len(s) > 7 || !allDigits(s) {
		return 0, fmt.Errorf("%q is not a number of up to 7 digits", s)
	}
	return strconv.ParseUint(s, 10, 64)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// unquote removes CSV quotes around a field ("ПАО ""МТС""" → ПАО "МТС").
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' && strings.Count(s, `"`)%2 == 0 {
		inner := s[1 : len(s)-1]
		if !strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
			return strings.ReplaceAll(inner, `""`, `"`)
		}
	}
	return s
}
