package cpu

import "math"

// Softmax computes, for each of the rows rows of the rows×cols matrix x,
//
//	y[r, j] = exp(x[r, j] - max_r) / Σ_k exp(x[r, k] - max_r)
//
// with max_r the row maximum (so large inputs do not overflow); exp is a
// float32 polynomial accurate to about 2 ulp, the sum is accumulated in
// float64. y may alias x. Rows are split with ParallelFor.
func Softmax(y, x []float32, rows, cols int) {
	if rows < 0 || cols < 1 {
		panic("cpu: Softmax: invalid shape")
	}
	needLen("Softmax", "x", x, rows*cols, false)
	needLen("Softmax", "y", y, rows*cols, false)
	ParallelFor(rows, chunkFor(8*cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr := x[r*cols : (r+1)*cols]
			yr := y[r*cols : (r+1)*cols]
			mx := xr[0]
			for _, v := range xr[1:] {
				if v > mx { // not max(): its NaN/±0 handling is slow; a NaN still spreads via exp
					mx = v
				}
			}
			var s float64
			for j, v := range xr {
				e := expNonPos32(v - mx)
				s += float64(e)
				yr[j] = e
			}
			inv := float32(1 / s)
			for j := range yr {
				yr[j] *= inv
			}
		}
	})
}

// SoftmaxBackward computes, for each row of the rows×cols matrices,
//
//	dx[r, j] = y[r, j] * (g[r, j] - Σ_k g[r, k]*y[r, k])
//
// (the dot accumulated in float64), where y = Softmax(x). With g the output
// gradient this is the reverse-mode gradient; with g the input tangent it is
// the forward-mode output tangent (softmax's Jacobian is symmetric). dx may
// alias g. Rows are split with ParallelFor.
func SoftmaxBackward(dx, y, g []float32, rows, cols int) {
	if rows < 0 || cols < 1 {
		panic("cpu: SoftmaxBackward: invalid shape")
	}
	needLen("SoftmaxBackward", "dx", dx, rows*cols, false)
	needLen("SoftmaxBackward", "y", y, rows*cols, false)
	needLen("SoftmaxBackward", "g", g, rows*cols, false)
	ParallelFor(rows, chunkFor(2*cols), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := y[r*cols : (r+1)*cols]
			gr := g[r*cols : (r+1)*cols]
			dr := dx[r*cols : (r+1)*cols]
			var s float64
			for j, v := range yr {
				s += float64(v) * float64(gr[j])
			}
			sf := float32(s)
			for j, v := range yr {
				dr[j] = v * (gr[j] - sf)
			}
		}
	})
}

// expNonPos32 returns e^x for x <= 0 to within about 2 ulp (0 below the
// smallest normal result, NaN for NaN), Cephes expf's method: x = k·ln2 + r,
// |r| <= ln2/2, e^x = 2^k · P(r) with a degree-7 polynomial P.
func expNonPos32(x float32) float32 {
	if x < -87.33654 {
		return 0
	}
	k := int32(x*1.44269504088896341 - 0.5) // round(x/ln2) for x <= 0
	kf := float32(k)
	r := x - kf*0.693359375 + kf*2.12194440e-4
	p := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+
		4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(k+127)<<23)
}
