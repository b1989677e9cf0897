package ocm

import (
	"strings"
	"testing"
)

// TestMixtureNestingLimits: the nesting scan counts elements exactly (strings with
// brackets and escaped quotes do not confuse it), so a mixture of the largest
// dimension passes it and one row more does not.
func TestMixtureNestingLimits(t *testing.T) {
	row := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("0,", n), ",") + "]" }
	if err := checkNesting([]byte(`{"means":[` + row(MaxMixtureDim) + "]}")); err != nil {
		t.Errorf("a mean of dimension %d: %v", MaxMixtureDim, err)
	}
	if err := checkNesting([]byte(`{"means":[` + row(MaxMixtureDim+1) + "]}")); err == nil {
		t.Errorf("a mean of dimension %d passed", MaxMixtureDim+1)
	}
	tricky := `{"means":["a,[b\",", "]]]", [1,2]]}`
	if err := checkNesting([]byte(tricky)); err != nil {
		t.Errorf("strings with brackets: %v", err)
	}
}
