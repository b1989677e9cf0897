package nn

import (
	"math"
	"sync"

	rt "ocm/runtime"
)

// TimestepEmbedding returns the sinusoidal embedding (N, dim) of time inputs t:
// [sin(t·f_i), cos(t·f_i)], f_i = exp(−ln(10000)·i/(dim/2)), i < dim/2 (the reference
// models' layout). It is computed in float64 on the host and uploaded.
func TimestepEmbedding(dev rt.Device, t []float64, dim int) *rt.Tensor {
	out := make([]float32, len(t)*dim)
	freqs := embeddingFreqs(dim)
	for n, tn := range t {
		embedRow(out[n*dim:(n+1)*dim], tn, freqs, false)
	}
	return rt.FromSlice(dev, out, len(t), dim)
}

func embeddingFreqs(dim int) []float64 {
	half := dim / 2
	f := make([]float64, half)
	for i := range f {
		f[i] = math.Exp(-math.Log(10000) * float64(i) / float64(half))
	}
	return f
}

// embedRow writes [sin, cos] of t·freqs into row, or [cos, sin] when cosFirst.
func embedRow(row []float32, t float64, freqs []float64, cosFirst bool) {
	half := len(freqs)
	for i, f := range freqs {
		s, c := math.Sincos(t * f)
		if cosFirst {
			s, c = c, s
		}
		row[i], row[half+i] = float32(s), float32(c)
	}
}

// EmbeddingCache computes timestep embeddings once per distinct time input: a model
// sees at most N of them (the diffusion steps), so after warm-up an embedding costs a
// copy. It is safe for concurrent use.
type EmbeddingCache struct {
	dim      int
	cosFirst bool
	freqs    []float64
	mu       sync.Mutex
	rows     map[float64][]float32
}

// NewEmbeddingCache returns a cache of embeddings of width dim in TimestepEmbedding's
// layout [sin, cos], or [cos, sin] when cosFirst (improved DDPM's layout).
func NewEmbeddingCache(dim int, cosFirst bool) *EmbeddingCache {
	return &EmbeddingCache{dim: dim, cosFirst: cosFirst, freqs: embeddingFreqs(dim), rows: map[float64][]float32{}}
}

// Embed returns the embedding (N, dim) of time inputs t (for [sin, cos], equal to
// TimestepEmbedding).
func (c *EmbeddingCache) Embed(dev rt.Device, t []float64) *rt.Tensor {
	out := make([]float32, len(t)*c.dim)
	c.mu.Lock()
	for n, tn := range t {
		row, ok := c.rows[tn]
		if !ok {
			row = make([]float32, c.dim)
			embedRow(row, tn, c.freqs, c.cosFirst)
			if len(c.rows) < 1<<16 {
				c.rows[tn] = row
			}
		}
		copy(out[n*c.dim:], row)
	}
	c.mu.Unlock()
	return rt.FromSlice(dev, out, len(t), c.dim)
}
