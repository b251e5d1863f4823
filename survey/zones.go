package survey

import (
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/hotline-cc/hotline/numbering"
)

// NumberingPlan tells the registry's range of a +7 number (a
// *numbering.Plan; nil when none is configured).
type NumberingPlan interface {
	Lookup(e164 string) (numbering.Info, bool)
}

// Zone certainty of a number (survey.zone_status, Counts.ByZone).
const (
	ZoneKnown     = "known"     // one zone
	ZoneAmbiguous = "ambiguous" // the number's region spans several zones (Yakutia; a country-wide range)
	ZoneUnknown   = "unknown"   // nothing says where the number is: every zone of its country
)

// UnknownZone policies (Config.UnknownZone).
const (
	// UnknownZoneIntersect calls a number whose zone is ambiguous or
	// unknown only at hours inside the window in every zone it could be in
	// (none, for a Russian number that could be anywhere from UTC+2 to
	// UTC+12, with a window shorter than 20 hours).
	UnknownZoneIntersect = "intersect"
	// UnknownZoneSkip does not survey such numbers (reason zone-unknown).
	UnknownZoneSkip = "skip"
)

// Zones is where a number's customer may be.
type Zones struct {
	Locs []*time.Location
	// Status is ZoneKnown, ZoneAmbiguous or ZoneUnknown.
	Status string
	// Source is how the zones were found: "plan" (the numbering plan),
	// "number" (libphonenumber), "country" (every zone of the country:
	// nothing more precise), "service" (the service zone: nothing at all).
	Source string
}

// String lists the zones' names, comma-separated (the survey row's zone).
func (z Zones) String() string {
	names := make([]string, len(z.Locs))
	for i, l := range z.Locs {
		names[i] = l.String()
	}
	return strings.Join(names, ",")
}

var locCache sync.Map // name → *time.Location

func loadLoc(name string) (*time.Location, bool) {
	if l, ok := locCache.Load(name); ok {
		return l.(*time.Location), true
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	locCache.Store(name, l)
	return l, true
}

func loadLocs(names []string) []*time.Location {
	var out []*time.Location
	for _, n := range names {
		if n == "" || strings.HasPrefix(n, "Etc/") {
			continue
		}
		if l, ok := loadLoc(n); ok {
			out = append(out, l)
		}
	}
	return out
}

func zonesOf(locs []*time.Location, source string) Zones {
	st := ZoneKnown
	if len(locs) > 1 {
		st = ZoneAmbiguous
	}
	return Zones{Locs: locs, Status: st, Source: source}
}

// ParseZones reads a survey row's zone column (ZonesFor's String).
func ParseZones(s string, service *time.Location) []*time.Location {
	if locs := loadLocs(strings.Split(s, ",")); len(locs) > 0 {
		return locs
	}
	return []*time.Location{service}
}

// prefixZones fix libphonenumber where it names a foreign representative
// zone (UTC+2 with DST for Kaliningrad) or several: used when the
// numbering plan does not hold the number. Longest prefix wins.
var prefixZones = map[string]string{
	"+7401": "Europe/Kaliningrad", // libphonenumber: Europe/Bucharest
	"+7840": "Europe/Moscow",      // Abkhazia: Europe/Bucharest or Europe/Moscow
	"+7940": "Europe/Moscow",
}

// ZonesFor returns where the customer of an E.164 number may be. A
// Russian number is looked up in the numbering plan first (the
// regulator's registry, mobile ranges included): a region spanning zones
// gives them all (ambiguous), a range whose region is not recognised
// every Russian zone (unknown). Without the plan's answer: hotline's
// prefix table, then libphonenumber for geographic numbers; a mobile
// (+79) number, for which libphonenumber answers Moscow whatever the
// region, or any other Russian number nothing places, may be in any of
// Russia's zones (unknown). Other countries' numbers take libphonenumber's
// zones (several: ambiguous); a number without any is taken to be in the
// service's zone and counted as unknown.
func ZonesFor(number, region string, plan NumberingPlan, service *time.Location) Zones {
	russian := strings.HasPrefix(number, "+7") && !strings.HasPrefix(number, "+76") && !strings.HasPrefix(number, "+77")
	country := Zones{Locs: loadLocs(numbering.RussianZones), Status: ZoneUnknown, Source: "country"}
	if russian {
		if plan != nil {
			if info, ok := plan.Lookup(number); ok {
				if locs := loadLocs(info.Zones); len(locs) > 0 {
					return zonesOf(locs, "plan")
				}
				return country
			}
		}
		best := ""
		for p := range prefixZones {
			if strings.HasPrefix(number, p) && len(p) > len(best) {
				best = p
			}
		}
		if l, ok := loadLoc(prefixZones[best]); ok && best != "" {
			return zonesOf([]*time.Location{l}, "prefix")
		}
		if strings.HasPrefix(number, "+79") {
			return country
		}
	}
	if num, err := phonenumbers.Parse(number, region); err == nil {
		if names, err := phonenumbers.GetTimezonesForNumber(num); err == nil {
			if locs := loadLocs(names); len(locs) > 0 && !(russian && len(locs) > 1) {
				return zonesOf(locs, "number")
			}
		}
	}
	if russian {
		return country
	}
	return Zones{Locs: []*time.Location{service}, Status: ZoneUnknown, Source: "service"}
}
