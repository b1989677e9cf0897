package toy

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestELBORowJSONNonFinite: an infinite or NaN bound is written as null, not an error
// that loses the whole report.
func TestELBORowJSONNonFinite(t *testing.T) {
	b, err := json.Marshal([]ELBORow{{Cov: "sn", K: 2, NELBO: math.NaN(), StdErr: math.Inf(1), ExactNLL: 1.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"variance_type":"sn","steps":2,"nelbo_nats":null,"nelbo_std_err":null,"exact_nll_nats":1.5}]`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
	b, _ = json.Marshal(ELBORow{Cov: "ocm", K: 5, NELBO: 2.25, StdErr: 0.5})
	if !strings.Contains(string(b), `"nelbo_nats":2.25`) || !strings.Contains(string(b), `"nelbo_std_err":0.5`) {
		t.Errorf("finite values lost: %s", b)
	}
}
