package numbering

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadSample(t testing.TB) *Plan {
	t.Helper()
	p, err := Load("testdata/DEF-9xx.csv", "testdata/ABC-3xx.csv", "testdata/ABC-old-cp1251.csv")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Every one of Russia's eleven zones, from mobile (DEF) and geographic
// (ABC) ranges; Yakutia spans three zones.
func TestZonesOfNumbers(t *testing.T) {
	p := loadSample(t)
	cases := []struct {
		number string
		zones  []string
		offset int // hours east of UTC in winter, for single zones
	}{
		{"+79217123456", []string{"Europe/Kaliningrad"}, 2},
		{"+74012345678", []string{"Europe/Kaliningrad"}, 2},
		{"+79161234567", []string{"Europe/Moscow"}, 3},
		{"+79272345678", []string{"Europe/Samara"}, 4},
		{"+78462345678", []string{"Europe/Samara"}, 4}, // Windows-1251, no header
		{"+79122345678", []string{"Asia/Yekaterinburg"}, 5},
		{"+73432345678", []string{"Asia/Yekaterinburg"}, 5},
		{"+79136345678", []string{"Asia/Omsk"}, 6},
		{"+79139345678", []string{"Asia/Novosibirsk"}, 7},
		{"+73832345678", []string{"Asia/Novosibirsk"}, 7},
		{"+79232345678", []string{"Asia/Krasnoyarsk"}, 7},
		{"+79148712345", []string{"Asia/Irkutsk"}, 8},
		{"+79145512345", []string{"Asia/Yakutsk"}, 9},
		{"+79141234567", []string{"Asia/Vladivostok"}, 10}, // issue 15: Moscow time before
		{"+74232345678", []string{"Asia/Vladivostok"}, 10},
		{"+79148512345", []string{"Asia/Magadan"}, 11},
		{"+79147812345", []string{"Asia/Kamchatka"}, 12},
		{"+79142212345", []string{"Asia/Srednekolymsk", "Asia/Ust-Nera", "Asia/Yakutsk"}, 0},
		{"+74112345678", []string{"Asia/Srednekolymsk", "Asia/Ust-Nera", "Asia/Yakutsk"}, 0},
		{"+79000012345", sorted(RussianZones), 0},
		{"+79400012345", nil, 0}, // a region the table does not know
	}
	winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	for _, c := range cases {
		info, ok := p.Lookup(c.number)
		if !ok {
			t.Errorf("%s: not found", c.number)
			continue
		}
		if !slices.Equal(info.Zones, c.zones) {
			t.Errorf("%s (%s): zones %v, want %v", c.number, info.Region, info.Zones, c.zones)
			continue
		}
		if c.offset != 0 {
			loc, err := time.LoadLocation(c.zones[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, off := winter.In(loc).Zone(); off != c.offset*3600 {
				t.Errorf("%s: %s is UTC%+d, want %+d", c.number, c.zones[0], off/3600, c.offset)
			}
		}
	}
	for _, n := range []string{"+79150000000", "+79141000000", "+79141999999"} {
		_, ok := p.Lookup(n)
		if ok != (n != "+79150000000") {
			t.Errorf("%s: found=%v", n, ok)
		}
	}
	for _, n := range []string{"+7914123456", "+791412345678", "+19141234567", "79141234567", "+7914123456x", ""} {
		if _, ok := p.Lookup(n); ok {
			t.Errorf("%q found", n)
		}
	}
	if got := p.Unrecognised(); !slices.Equal(got, []string{"Республика Абхазия"}) {
		t.Errorf("Unrecognised = %v", got)
	}
	if info, _ := p.Lookup("+79161234567"); info.Operator != `ПАО "МТС"` {
		t.Errorf("operator %q", info.Operator)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// Every subject's zone offset is one of Russia's eleven, and all eleven
// are covered.
func TestRussianZonesCoverElevenOffsets(t *testing.T) {
	winter := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	offsets := map[int]bool{}
	for _, z := range RussianZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		_, off := winter.In(loc).Zone()
		offsets[off/3600] = true
	}
	if len(offsets) != 11 {
		t.Fatalf("RussianZones cover %d offsets", len(offsets))
	}
	for _, s := range subjects {
		for _, z := range s.zones {
			loc, err := time.LoadLocation(z)
			if err != nil {
				t.Fatal(err)
			}
			if _, off := winter.In(loc).Zone(); !offsets[off/3600] {
				t.Errorf("%s: UTC%+d is not a Russian offset", z, off/3600)
			}
		}
	}
}

func TestZonesOfRegionNames(t *testing.T) {
	for region, want := range map[string]string{
		"Томская обл.":               "Asia/Tomsk",
		"г. Омск|Омская обл.":        "Asia/Omsk",
		"Сахалинская обл.":           "Asia/Sakhalin",
		"Ямало-Ненецкий АО":          "Asia/Yekaterinburg",
		"Ненецкий АО":                "Europe/Moscow",
		"г. Кировск|Мурманская обл.": "Europe/Moscow",
		"Кировская обл.":             "Europe/Kirov",
		"г. Санкт-Петербург и Ленинградская область": "Europe/Moscow",
		"Республика Коми":                          "Europe/Moscow",
		"Республика Алтай":                         "Asia/Barnaul",
		"Чукотский автономный округ":               "Asia/Anadyr",
		"Забайкальский край":                       "Asia/Chita",
		"Республика Крым":                          "Europe/Simferopol",
		"Курганская обл.":                          "Asia/Yekaterinburg",
		"Курская обл.":                             "Europe/Moscow",
		"Нижегородская обл.":                       "Europe/Moscow",
		"Удмуртская Республика":                    "Europe/Samara",
		"Кемеровская обл. - Кузбасс":               "Asia/Novokuznetsk",
		"Ханты-Мансийский автономный округ - Югра": "Asia/Yekaterinburg",
	} {
		if got := ZonesOf(region); !slices.Equal(got, []string{want}) {
			t.Errorf("%s: %v, want %s", region, got, want)
		}
	}
}

// The loader refuses a malformed file with file:line.
func TestLoadErrors(t *testing.T) {
	const header = "АВС/ DEF;От;До;Емкость;Оператор;Регион;Территория ГАР;ИНН\n"
	const good = "914;1000000;1999999;1000000;ПАО \"МТС\";Приморский край;Приморский край;7740000076\n"
	cases := []struct {
		name, data string
		line       int
		msg        string
	}{
		{"too few fields", header + good + "914;2000000;2999999;1000000;ПАО \"МТС\"\n", 3, "5 fields, want 8"},
		{"code", header + "91;1000000;1999999;1000000;x;Приморский край;y;1\n", 2, `code "91" is not three digits`},
		{"from", header + "914;10000x0;1999999;1000000;x;Приморский край;y;1\n", 2, "from:"},
		{"to", header + "914;1000000;19999999;1000000;x;Приморский край;y;1\n", 2, "to:"},
		{"reversed", header + good + "914;3000000;2999999;1;x;Приморский край;y;1\n", 3, "is after to"},
		{"capacity", header + "914;1000000;1999999;999999;x;Приморский край;y;1\n", 2, "capacity 999999 does not match"},
		{"capacity text", header + "914;1000000;1999999;много;x;Приморский край;y;1\n", 2, "capacity"},
		{"region", header + "914;1000000;1999999;1000000;x;;y;1\n", 2, "no region"},
		{"header", "Код;От;До;Оператор;Регион\n" + good, 1, `no column "Емкость"`},
		{"overlap", header + good + "\n914;1500000;1500009;10;x;Приморский край;y;1\n", 4, "overlaps the range at bad.csv:2"},
		{"no header, bad row", "914;1000000;1999999;1000000;ПАО \"МТС\";Приморский край;7740000076\n914;2000000\n", 2, "2 fields"},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.csv")
			if err := os.WriteFile(path, []byte(c.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if e.File != path || e.Line != c.line || !strings.Contains(e.Msg, strings.ReplaceAll(c.msg, "bad.csv", path)) {
				t.Fatalf("err = %v, want %s:%d: …%s…", err, path, c.line, c.msg)
			}
			if !strings.HasPrefix(err.Error(), path+":") {
				t.Fatalf("%q does not start with file:line", err)
			}
		})
	}
	// Overlaps across files name both.
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	os.WriteFile(a, []byte(header+good), 0o644)
	os.WriteFile(b, []byte(header+"914;1999999;1999999;1;x;Приморский край;y;1\n"), 0o644)
	if _, err := Load(a, b); err == nil || !strings.Contains(err.Error(), b+":2:") || !strings.Contains(err.Error(), a+":2") {
		t.Fatalf("cross-file overlap: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Fatalf("missing file: %v", err)
	}
}
