package cli

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ParseInts reads a comma-separated list of positive integers (--eval-steps).
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// ModeOf is the set of modes whose flags are true in given.
func ModeOf(given map[string]string) Mode {
	var m Mode
	for i, name := range modeNames {
		if v, ok := given[name]; ok && v == "true" {
			m |= 1 << i
		}
	}
	return m
}

// String names the modes as flags: "--train --fit".
func (m Mode) String() string {
	var out []string
	for i, name := range modeNames {
		if m&(1<<i) != 0 {
			out = append(out, "--"+name)
		}
	}
	return strings.Join(out, " ")
}

// String is "a toy model", "an image model" or "a model".
func (k Kind) String() string {
	switch k {
	case Toy:
		return "a toy model"
	case Image:
		return "an image model"
	}
	return "a model"
}

// Applies reports whether the rule's flag, with value, takes effect in modes on a model
// of kind; value(name) is the value of any other flag.
func (r Rule) Applies(modes Mode, kind Kind, v string, value func(string) string) bool {
	for _, u := range r.Uses {
		if u.Modes&modes == 0 || u.Kinds&kind == 0 || (u.Value != "" && u.Value != v) {
			continue
		}
		ok := true
		for f, want := range u.Needs {
			ok = ok && value(f) == want
		}
		if ok {
			return true
		}
	}
	return false
}

// Check walks the flags given (name → value as parsed) for a run of modes on a model
// of kind (AnyKind when the modes read no model) and returns a warning per flag that
// does nothing but only warns, or the error of the first flag (in name order) that
// does nothing, of two flags that choose the same thing, or of a mode that runs alone
// given with others. value(name) is the value of any flag, given or not.
func Check(given map[string]string, value func(string) string, kind Kind) (warnings []string, err error) {
	modes := ModeOf(given)
	if alone := modes & Alone; alone != 0 && (alone&(alone-1) != 0 || modes&Model != 0) {
		first := alone & -alone
		return nil, fmt.Errorf("%s runs alone (also given: %s)", first, modes&^first)
	}
	for _, c := range Conflicts {
		_, a := given[c[0]]
		_, b := given[c[1]]
		if a && b {
			return nil, fmt.Errorf("--%s and --%s both choose the model: give one", c[0], c[1])
		}
	}
	for _, name := range slices.Sorted(maps.Keys(given)) {
		r, ok := RuleOf(name)
		if !ok || r.Applies(modes, kind, given[name], value) {
			continue
		}
		msg := fmt.Sprintf("--%s %s (this run: %s on %s)", name, r.Why, modes, kind)
		if kind == AnyKind {
			msg = fmt.Sprintf("--%s %s (this run: %s)", name, r.Why, modes)
		}
		if !r.Warn && (r.WarnValue == "" || given[name] != r.WarnValue) {
			return warnings, fmt.Errorf("%s", msg)
		}
		warnings = append(warnings, "ignored: "+msg)
	}
	return warnings, nil
}
