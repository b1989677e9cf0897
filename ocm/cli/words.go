package cli

import (
	"fmt"
	"strings"
)

// Synonym is a name diffusers uses for one of ocm's settings: the flag Flag (with
// the value Value, when Value is not empty) means the ocm flag To (with ToValue).
// Without To the name is refused, and Note says why.
type Synonym struct {
	Flag, Value string
	To, ToValue string
	Note        string
}

// Synonyms are diffusers' names that ocm accepts, and the ones it refuses because
// ocm has no setting that means the same.
var Synonyms = []Synonym{
	{Flag: "num-inference-steps", To: "steps", Note: "K, the sampling steps"},
	{Flag: "clip-sample", To: "clip-x0", Note: "clamp x̂0 to [-1, 1] in every step"},
	{Flag: "variance-type", Value: "fixed_small", To: "variance-type", ToValue: "small", Note: "σ² = β̃ (the posterior variance)"},
	{Flag: "variance-type", Value: "fixed_small_log", To: "variance-type", ToValue: "small", Note: "the same σ², computed via its log"},
	{Flag: "variance-type", Value: "fixed_large", To: "variance-type", ToValue: "large", Note: "σ² = β"},
	{Flag: "variance-type", Value: "learned", Note: "diffusers' learned variances are network outputs trained with the model; ocm learns the covariance after training: --variance-type ocm"},
	{Flag: "variance-type", Value: "learned_range", Note: "diffusers' learned_range interpolates log β and log β̃ with a trained output; ocm's learned covariance is --variance-type ocm"},
	{Flag: "beta-schedule", Value: "squaredcos_cap_v2", To: "beta-schedule", ToValue: "cosine", Note: "Improved DDPM's cosine schedule, β capped at 0.999"},
	{Flag: "beta-schedule", Value: "scaled_linear", Note: "scaled_linear (linear in √β) is not one of ocm's schedules: linear or cosine"},
	{Flag: "timestep-spacing", Value: "linspace", To: "timestep-spacing", ToValue: "even",
		Note: "round(linspace(0, N−1, K)); ocm numbers steps from 1 (diffusers' t is ocm's t − 1). Where a step falls exactly halfway between integers (N = 1000: K = 3, 11, 25, …) both round half to even, so that one step differs by one"},
	{Flag: "timestep-spacing", Value: "leading", Note: "diffusers' leading steps are 1 + k·⌊N/K⌋ in ocm's numbering (with steps_offset 0): they never reach pure noise at step N; ocm has no such sequence (even = linspace)"},
	{Flag: "timestep-spacing", Value: "trailing", Note: "diffusers' trailing steps are N, N − N/K, …, N/K in ocm's numbering: they end N/K short of step 1; ocm has no such sequence (even = linspace)"},
}

// Translate rewrites diffusers' names in args to ocm's (see Synonyms), in place of
// the original words, and refuses the names ocm has no equivalent for. Both
// --flag value and --flag=value forms are read, with one or two dashes.
func Translate(args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		dashes, name, value, hasValue := splitFlag(a)
		if dashes == "" || !isSynonymFlag(name) {
			out = append(out, a)
			continue
		}
		if !hasValue && i+1 < len(args) && takesValue(name) {
			value, hasValue = args[i+1], true
			i++
		}
		name, value, err := translate(name, value, hasValue)
		if err != nil {
			return nil, err
		}
		if hasValue {
			out = append(out, "--"+name+"="+value)
		} else {
			out = append(out, "--"+name)
		}
	}
	return out, nil
}

// translate maps one flag and value.
func translate(name, value string, hasValue bool) (string, string, error) {
	for _, s := range Synonyms {
		if s.Flag != name || (s.Value != "" && (!hasValue || s.Value != value)) {
			continue
		}
		if s.To == "" {
			return "", "", fmt.Errorf("--%s %s is diffusers' name for a setting ocm does not have: %s", name, value, s.Note)
		}
		if s.ToValue != "" {
			value = s.ToValue
		}
		return s.To, value, nil
	}
	return name, value, nil
}

// isSynonymFlag reports whether name is the flag of some synonym.
func isSynonymFlag(name string) bool {
	for _, s := range Synonyms {
		if s.Flag == name {
			return true
		}
	}
	return false
}

// takesValue reports whether a synonym flag reads the next word as its value.
func takesValue(name string) bool {
	switch name {
	case "num-inference-steps", "variance-type", "beta-schedule", "timestep-spacing":
		return true
	}
	return false
}

// splitFlag splits "--name=value" or "-name"; dashes is "" for a word that is not a
// flag (or is the "--" that ends the flags).
func splitFlag(a string) (dashes, name, value string, hasValue bool) {
	switch {
	case strings.HasPrefix(a, "--") && len(a) > 2:
		dashes, a = "--", a[2:]
	case strings.HasPrefix(a, "-") && len(a) > 1 && a[1] != '-':
		dashes, a = "-", a[1:]
	default:
		return "", "", "", false
	}
	name, value, hasValue = strings.Cut(a, "=")
	return dashes, name, value, hasValue
}
