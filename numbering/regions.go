package numbering

import (
	"slices"
	"strings"
	"unicode"
)

// Russia has eleven time zones, UTC+2 to UTC+12. RussianZones names one
// IANA zone for each, west to east: the zones a +7 number of an unknown
// region could be in.
var RussianZones = []string{
	"Europe/Kaliningrad", // +2
	"Europe/Moscow",      // +3
	"Europe/Samara",      // +4
	"Asia/Yekaterinburg", // +5
	"Asia/Omsk",          // +6
	"Asia/Krasnoyarsk",   // +7
	"Asia/Irkutsk",       // +8
	"Asia/Yakutsk",       // +9
	"Asia/Vladivostok",   // +10
	"Asia/Magadan",       // +11
	"Asia/Kamchatka",     // +12
}

// subject is a federal subject (or a group the registry names) and its
// zones. Keys are lower-case word prefixes (ё as е); a key starting with
// "=" must be a whole word.
type subject struct {
	keys  []string
	zones []string
}

// subjects maps the registry's region names to zones (the federal law on
// time calculation, 107-FZ, and the tz database's zones for each subject).
var subjects = []subject{
	{[]string{"калининградск"}, []string{"Europe/Kaliningrad"}},
	// UTC+3
	{[]string{"моск", "санкт-петербург", "ленинградск", "адыге", "архангельск", "ненецк", "белгородск", "брянск",
		"владимирск", "вологодск", "воронежск", "ивановск", "калужск", "карел", "=коми", "костромск", "краснодарск",
		"курск", "липецк", "марий", "мордов", "мурманск", "нижегородск", "новгород", "орловск", "пензенск", "псковск",
		"ростовск", "рязанск", "смоленск", "ставрополь", "тамбовск", "тверск", "тульск", "ярославск", "чуваш",
		"татарстан", "дагестан", "ингуш", "кабардин", "карачаев", "калмык", "осетия", "чечен", "донецк", "луганск",
		"запорожск", "херсонск"}, []string{"Europe/Moscow"}},
	{[]string{"кировск"}, []string{"Europe/Kirov"}},
	{[]string{"волгоградск"}, []string{"Europe/Volgograd"}},
	{[]string{"крым", "севастопол"}, []string{"Europe/Simferopol"}},
	// UTC+4
	{[]string{"самарск", "удмурт"}, []string{"Europe/Samara"}},
	{[]string{"астраханск"}, []string{"Europe/Astrakhan"}},
	{[]string{"саратовск"}, []string{"Europe/Saratov"}},
	{[]string{"ульяновск"}, []string{"Europe/Ulyanovsk"}},
	// UTC+5
	{[]string{"башкортостан", "башкир", "курганск", "оренбургск", "пермск", "свердловск", "тюменск", "челябинск",
		"ханты", "югра", "ямало"}, []string{"Asia/Yekaterinburg"}},
	// UTC+6
	{[]string{"омск"}, []string{"Asia/Omsk"}},
	// UTC+7
	{[]string{"алтай"}, []string{"Asia/Barnaul"}},
	{[]string{"кемеровск", "кузбасс"}, []string{"Asia/Novokuznetsk"}},
	{[]string{"новосибирск"}, []string{"Asia/Novosibirsk"}},
	{[]string{"томск"}, []string{"Asia/Tomsk"}},
	{[]string{"красноярск", "=тыва", "=тува", "хакас"}, []string{"Asia/Krasnoyarsk"}},
	// UTC+8
	{[]string{"иркутск", "бурят"}, []string{"Asia/Irkutsk"}},
	// UTC+9
	{[]string{"забайкал", "читинск"}, []string{"Asia/Chita"}},
	{[]string{"амурск"}, []string{"Asia/Yakutsk"}},
	// Yakutia spans UTC+9 (Yakutsk), +10 (Ust-Nera) and +11 (Srednekolymsk).
	{[]string{"=саха", "якут"}, []string{"Asia/Yakutsk", "Asia/Ust-Nera", "Asia/Srednekolymsk"}},
	// UTC+10
	{[]string{"приморск", "хабаровск", "еврейск"}, []string{"Asia/Vladivostok"}},
	// UTC+11
	{[]string{"магаданск"}, []string{"Asia/Magadan"}},
	{[]string{"сахалинск"}, []string{"Asia/Sakhalin"}},
	// UTC+12
	{[]string{"камчатск"}, []string{"Asia/Kamchatka"}},
	{[]string{"чукотск"}, []string{"Asia/Anadyr"}},
	// Ranges the registry gives to the whole country.
	{[]string{"российск", "=россия", "=рф"}, RussianZones},
}

// words splits a region name into lower-case words (ё as е, hyphens kept).
func words(s string) []string {
	s = strings.ReplaceAll(strings.ToLower(s), "ё", "е")
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && r != '-' })
}

func matches(ws []string, key string) bool {
	whole := strings.HasPrefix(key, "=")
	key = strings.TrimPrefix(key, "=")
	for _, w := range ws {
		if w == key || !whole && strings.HasPrefix(w, key) {
			return true
		}
	}
	return false
}

// ZonesOf returns the IANA zones of a region as the registry names it,
// sorted; nil when the region is not recognised. The registry writes
// "town|subject" (e.g. "г. Улан-Удэ|Республика Бурятия"): the subject, the
// last part, decides; the other parts only when it names nothing.
func ZonesOf(region string) []string {
	parts := strings.Split(region, "|")
	if z := zonesOfPart(parts[len(parts)-1]); z != nil {
		return z
	}
	return zonesOfPart(region)
}

func zonesOfPart(s string) []string {
	ws := words(s)
	var zones []string
	for _, sub := range subjects {
		for _, k := range sub.keys {
			if matches(ws, k) {
				zones = append(zones, sub.zones...)
				break
			}
		}
	}
	if zones == nil {
		return nil
	}
	slices.Sort(zones)
	return slices.Compact(zones)
}
