package ivr

import (
	"cmp"
	"slices"
	"strings"

	"github.com/hotline-cc/hotline/sip"
)

// nodeKey names a node across flows.
type nodeKey struct{ flow, node string }

func (k nodeKey) String() string { return k.flow + "/" + k.node }

// edges returns the transitions of nd (targets inside its flow) and the
// flow a goto jumps to.
func (nd *Node) edges() []Target {
	var out []Target
	add := func(t Target) {
		if t.Node != "" {
			out = append(out, t)
		}
	}
	add(nd.Next)
	add(nd.Fallback)
	add(nd.Open)
	add(nd.Closed)
	add(nd.NoNumber)
	add(nd.GotoNode)
	digits := make([]rune, 0, len(nd.Options))
	for d := range nd.Options {
		digits = append(digits, d)
	}
	slices.Sort(digits)
	for _, d := range digits {
		add(nd.Options[d])
	}
	for _, b := range nd.Branches {
		add(b.Goto)
	}
	return out
}

// exits reports whether nd ends the IVR by itself or hands over on its
// own after the last try.
func (nd *Node) exits() bool {
	return nd.Type.terminal() || nd.FallbackQueue != "" && nd.Fallback.Node == ""
}

// checkGraph resolves targets and finds unreachable nodes and loops that
// cannot end.
func (p *parser) checkGraph(f *Flows) {
	succ := map[nodeKey][]nodeKey{}
	line := map[nodeKey]int{}
	var all []nodeKey
	for _, fname := range f.Names() {
		fl := f.Flows[fname]
		for _, name := range fl.Order {
			nd := fl.Nodes[name]
			k := nodeKey{fname, name}
			all = append(all, k)
			line[k] = nd.Line
			for _, t := range nd.edges() {
				if _, ok := fl.Nodes[t.Node]; !ok {
					p.errorf(t.Line, "flow %s node %s: unknown target %q", fname, name, t.Node)
					continue
				}
				succ[k] = append(succ[k], nodeKey{fname, t.Node})
			}
			if nd.GotoFlow != "" {
				other, ok := f.Flows[nd.GotoFlow]
				if !ok {
					p.errorf(nd.Line, "flow %s node %s: unknown flow %q", fname, name, nd.GotoFlow)
					continue
				}
				succ[k] = append(succ[k], nodeKey{other.Name, other.Start})
			}
		}
	}
	if len(p.errs) > 0 {
		return
	}

	// Unreachable: every node must be reachable from its own flow's start.
	for _, fname := range f.Names() {
		fl := f.Flows[fname]
		seen := map[nodeKey]bool{}
		stack := []nodeKey{{fname, fl.Start}}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[k] {
				continue
			}
			seen[k] = true
			stack = append(stack, succ[k]...)
		}
		for _, name := range fl.Order {
			if !seen[nodeKey{fname, name}] {
				p.errorf(fl.Nodes[name].Line, "flow %s node %s: unreachable from the flow's start %q", fname, name, fl.Start)
			}
		}
	}

	// Way out: which nodes can reach an exit.
	pred := map[nodeKey][]nodeKey{}
	for k, ss := range succ {
		for _, s := range ss {
			pred[s] = append(pred[s], k)
		}
	}
	canExit := map[nodeKey]bool{}
	var queue []nodeKey
	for _, k := range all {
		if f.Flows[k.flow].Nodes[k.node].exits() {
			canExit[k] = true
			queue = append(queue, k)
		}
	}
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		for _, pk := range pred[k] {
			if !canExit[pk] {
				canExit[pk] = true
				queue = append(queue, pk)
			}
		}
	}
	for _, comp := range sccs(all, succ) {
		cyclic := len(comp) > 1 || slices.Contains(succ[comp[0]], comp[0])
		if !cyclic {
			continue
		}
		slices.SortFunc(comp, func(a, b nodeKey) int { return cmp.Compare(line[a], line[b]) })
		names := make([]string, len(comp))
		input := false
		for i, k := range comp {
			names[i] = k.String()
			input = input || f.Flows[k.flow].Nodes[k.node].Type.takesInput()
		}
		loop := strings.Join(append(names, names[0]), " → ")
		switch {
		case !canExit[comp[0]]:
			p.errorf(line[comp[0]], "loop with no way out: %s; no queue, message, hangup or callback node is reachable from it", loop)
		case !input:
			p.errorf(line[comp[0]], "loop without caller input: %s would repeat forever; put a menu in it or break it", loop)
		}
	}
}

// sccs returns the strongly connected components of the graph (Tarjan).
func sccs(nodes []nodeKey, succ map[nodeKey][]nodeKey) [][]nodeKey {
	index := map[nodeKey]int{}
	low := map[nodeKey]int{}
	on := map[nodeKey]bool{}
	var stack []nodeKey
	var out [][]nodeKey
	next := 0
	var visit func(v nodeKey)
	visit = func(v nodeKey) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		on[v] = true
		for _, w := range succ[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if on[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []nodeKey
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			out = append(out, comp)
		}
	}
	for _, v := range nodes {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return out
}

// languages returns the prompt languages the flows can use.
func (f *Flows) languages() []string {
	if len(f.Languages) > 0 {
		return f.Languages
	}
	langs := []string{f.Language}
	for _, fl := range f.Flows {
		for _, nd := range fl.Nodes {
			if nd.Type == NodeLanguage && !slices.Contains(langs, nd.Lang) {
				langs = append(langs, nd.Lang)
			}
		}
	}
	slices.Sort(langs)
	return langs
}

// checkPrompts asks the checker about every prompt in every language.
func (p *parser) checkPrompts(f *Flows, c PromptChecker) {
	langs := f.languages()
	if len(f.Languages) > 0 {
		for _, fl := range f.Flows {
			for _, nd := range fl.Nodes {
				if nd.Type == NodeLanguage && !slices.Contains(f.Languages, nd.Lang) {
					p.errorf(nd.Line, "flow %s node %s: language %q is not in ivr.languages", fl.Name, nd.Name, nd.Lang)
				}
			}
		}
	}
	for _, fname := range f.Names() {
		fl := f.Flows[fname]
		for _, name := range fl.Order {
			nd := fl.Nodes[name]
			for _, refs := range [][]PromptRef{nd.Prompts, nd.InvalidPrompts, nd.TimeoutPrompts} {
				for _, r := range refs {
					if r.Name == "" {
						continue
					}
					for _, l := range langs {
						if err := c.Check([]sip.Prompt{r.prompt(l)}); err != nil {
							p.errorf(r.Line, "flow %s node %s: prompt %q (%s) missing: %v", fname, name, r.Name, l, err)
						}
					}
				}
			}
		}
	}
}
