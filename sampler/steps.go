package sampler

import (
	"fmt"
	"math"
	"strings"
)

// TimestepSpacing names how K sampling steps are picked from 1..N
// (ocm-math §5). It implements flag.Value.
type TimestepSpacing int

const (
	// Even is the reference code's default "linear" trajectory, used for
	// every reported OCM number: K steps evenly spaced from 1 to N.
	Even TimestepSpacing = iota
	// Quadratic is the DDIM paper's "quad_ddim" trajectory: steps grow
	// quadratically from 1 to int(0.8N)+1.
	Quadratic
)

// timestepSpacingNames holds the CLI names of the TimestepSpacing values.
var timestepSpacingNames = [...]string{Even: "even", Quadratic: "quadratic"}

// String returns the CLI name of the spacing ("even" or "quadratic").
func (p TimestepSpacing) String() string {
	if p < 0 || int(p) >= len(timestepSpacingNames) {
		return fmt.Sprintf("TimestepSpacing(%d)", int(p))
	}
	return timestepSpacingNames[p]
}

// ParseTimestepSpacing converts a CLI name into a TimestepSpacing. The error
// for an unknown name lists the valid names.
func ParseTimestepSpacing(name string) (TimestepSpacing, error) {
	for i, n := range timestepSpacingNames {
		if n == name {
			return TimestepSpacing(i), nil
		}
	}
	return 0, fmt.Errorf("ocm: unknown timestep spacing %q (valid: %s)",
		name, strings.Join(timestepSpacingNames[:], ", "))
}

// Set implements flag.Value.
func (p *TimestepSpacing) Set(name string) error {
	v, err := ParseTimestepSpacing(name)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Timesteps returns the k sampling steps ns (strictly increasing, in 1..n)
// for a schedule of n diffusion steps. The sampler prepends 0 and walks the
// pairs backwards: x starts as N(0, I) at ns[k-1] and the last transition is
// (0, ns[0]) (ocm-math §4.6).
//
//   - Even (ocm-math §5 "linear"): stride = (n-1)/(k-1); cur = 1;
//     k times { append(RoundToEven(cur)); cur += stride }, accumulated in
//     float64 and rounded half to even like Python's round (so n = 1000,
//     k = 25 gives 500 at cur = 500.5). It starts at 1 and ends at n.
//   - Quadratic (§5 "quad_ddim"): ns[i] = int((i*sqrt(0.8n)/(k-1))^2) + 1,
//     with numpy linspace's exact last point; it ends at int(0.8n)+1, not n.
//     It repeats steps once k-1 > sqrt(0.8n), which is an error.
//
// k = 1 keeps only the final step of the sequence: [n] for Even and
// [int(0.8n)+1] for Quadratic, i.e. one jump from noise to x0hat.
// It needs 1 <= k <= n.
func Timesteps(spacing TimestepSpacing, n, k int) ([]int, error) {
	if n < 1 || k < 1 || k > n {
		return nil, fmt.Errorf("ocm: timesteps: need 1 <= k <= n, got k=%d n=%d", k, n)
	}
	var ns []int
	switch spacing {
	case Even:
		ns = evenTimesteps(n, k)
	case Quadratic:
		ns = quadraticTimesteps(n, k)
	default:
		return nil, fmt.Errorf("ocm: timesteps: unknown spacing %v", spacing)
	}
	for i := 1; i < len(ns); i++ {
		if ns[i] <= ns[i-1] {
			return nil, fmt.Errorf("ocm: timesteps: %v spacing with k=%d n=%d repeats step %d", spacing, k, n, ns[i])
		}
	}
	return ns, nil
}

// evenTimesteps is the reference "linear" trajectory (see Timesteps).
func evenTimesteps(n, k int) []int {
	if k == 1 {
		return []int{n}
	}
	stride := float64(n-1) / float64(k-1)
	ns := make([]int, k)
	cur := 1.0
	for i := range ns {
		ns[i] = int(math.RoundToEven(cur))
		cur += stride
	}
	return ns
}

// quadraticTimesteps is the reference "quad_ddim" trajectory (see Timesteps).
func quadraticTimesteps(n, k int) []int {
	stop := math.Sqrt(float64(n) * 0.8)
	if k == 1 {
		return []int{int(stop*stop) + 1}
	}
	step := stop / float64(k-1) // numpy linspace: i*step, last point exactly stop
	ns := make([]int, k)
	for i := range ns {
		v := float64(i) * step
		if i == k-1 {
			v = stop
		}
		ns[i] = int(v*v) + 1
	}
	return ns
}
