package runtime

import "math"

// expf returns eˣ in float32 to about 1 ulp (Cephes expf: range reduction by ln 2 split
// in two parts, then a degree-6 polynomial on |r| ≤ ln2/2), falling back to math.Exp
// near the ends of the float32 range.
func expf(x float32) float32 {
	if x > 88 || x < -87 || x != x {
		return float32(math.Exp(float64(x)))
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	k := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - k*c1 - k*c2
	z := r * r
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*z + r + 1
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// sigmoidf returns 1/(1+e⁻ˣ) in float32.
func sigmoidf(x float32) float32 { return 1 / (1 + expf(-x)) }
