// Package numbering reads the Russian numbering plan — the registry of
// ABC (geographic) and DEF (mobile) number ranges that the telecom
// regulator publishes as open data (files ABC-3xx.csv, ABC-4xx.csv,
// ABC-8xx.csv and DEF-9xx.csv, semicolon-separated: code; from; to;
// capacity; operator; region; [GAR territory;] INN) — and answers, for a
// +7 number, its range's operator, region and the IANA time zones the
// region lies in (one for most regions, several for a region spanning
// zones such as Yakutia, none when the region is not recognised). The
// survey uses it to call customers at a decent local hour
// (docs/survey.md).
//
// Lookups are a binary search over the ranges sorted by their first
// number. The loader refuses a malformed file with file:line.
//
// It may import the standard library only.
package numbering
