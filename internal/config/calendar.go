package config

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// mappingValue returns the key and value nodes of key in mapping n.
func mappingValue(n *yaml.Node, key string) (k, v *yaml.Node) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i], resolve(n.Content[i+1])
		}
	}
	return nil, nil
}

// moveCalendar makes the top-level calendar section the one calendar:
// package ivr builds the production calendar from the ivr section's
// calendar key, so the top-level section (with its deprecated holidays
// and workdays turned into dates) is put there, lines kept, and every
// user of the calendar (IVR schedules, the survey, the line-open gauge)
// reads the same one. A calendar still written under ivr.calendar loads
// with a deprecation warning (the old top-level holidays and workdays
// join its dates); the new keys in both places are an error.
//
// The file's own nodes are not changed (c.IVR stays the section as
// written, so a printed config reads back the same): the merged section is
// a copy, kept for IVRSection.
func moveCalendar(root *yaml.Node, c *Config, r *reporter) {
	c.ivrMerged = c.IVR
	ivr := resolve(c.IVR)
	if ivr == nil || ivr.Kind != yaml.MappingNode {
		return // package ivr reports the missing section
	}
	ivr = shallow(ivr)
	calKey, calNode := mappingValue(root, "calendar")
	ivrKey, ivrCal := mappingValue(ivr, "calendar")
	var current []*yaml.Node // builtin, years, dates of the top-level section
	var dates *yaml.Node
	if calNode != nil && calNode.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(calNode.Content); i += 2 {
			k, v := calNode.Content[i], calNode.Content[i+1]
			rv := resolve(v)
			if isNull(rv) || rv.Value == "" && len(rv.Content) == 0 {
				continue // empty: as if absent (a printed config writes builtin: "", dates: {})
			}
			switch k.Value {
			case "builtin", "years":
				current = append(current, k, v)
			case "dates":
				dates = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: rv.Line, Column: rv.Column}
				if rv.Kind == yaml.MappingNode {
					dates.Content = slices.Clone(rv.Content)
				}
				current = append(current, k, dates)
			}
		}
	}
	old := oldDates(calNode)
	switch {
	case ivrKey != nil && len(current) > 0:
		r.errorAt(ivrKey.Line, "ivr.calendar", "the calendar is configured twice: here and in the top-level calendar section (line %d); keep the top-level one (ivr.calendar is deprecated)", calKey.Line)
	case ivrKey != nil:
		r.warnings = append(r.warnings, (&Error{File: r.file, Line: ivrKey.Line, Path: "ivr.calendar",
			Msg: "deprecated: move this section to the top-level calendar: (same keys), the one calendar of the IVR and the survey"}).Error())
		if len(old) == 0 || ivrCal.Kind != yaml.MappingNode {
			return
		}
		cal := shallow(ivrCal)
		dk, dv := mappingValue(cal, "dates")
		switch {
		case dk == nil:
			cal.Content = append(cal.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "dates", Line: old[0].Line},
				&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: old[0].Line, Content: old})
		case dv.Kind == yaml.MappingNode:
			replace(cal, "dates", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: dv.Line, Column: dv.Column,
				Content: append(slices.Clone(dv.Content), old...)})
		}
		replace(ivr, "calendar", cal)
		c.ivrMerged = ivr
	case len(current) > 0 || len(old) > 0:
		if len(old) > 0 {
			if dates == nil {
				dates = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: old[0].Line}
				current = append(current, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "dates", Line: old[0].Line}, dates)
			}
			dates.Content = append(dates.Content, old...)
		}
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: calNode.Line, Column: calNode.Column, Content: current}
		ivr.Content = append(ivr.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "calendar", Line: calKey.Line, Column: calKey.Column}, out)
		c.ivrMerged = ivr
	}
}

// shallow copies a node and its list of children.
func shallow(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = slices.Clone(n.Content)
	return &c
}

// replace sets the value of key in mapping n (a copy of the file's node).
func replace(n *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			n.Content[i+1] = v
			return
		}
	}
}

// IVRSection is the ivr section as package ivr is to read it: the
// section as written with the one calendar (the top-level calendar
// section) in it. Pass it to ivr.ParseFlows.
func (c *Config) IVRSection() *yaml.Node {
	if c.ivrMerged != nil {
		return c.ivrMerged
	}
	return c.IVR
}

// oldDates turns the deprecated calendar.holidays and calendar.workdays
// into dates entries (key and value nodes on the item's line).
func oldDates(cal *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, old := range []struct{ key, kind string }{{"holidays", "holiday"}, {"workdays", "work"}} {
		_, list := mappingValue(cal, old.key)
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range list.Content {
			item = resolve(item)
			out = append(out,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: item.Value, Line: item.Line, Column: item.Column},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: old.kind, Line: item.Line, Column: item.Column})
		}
	}
	return out
}
