package bench

import (
	"fmt"
	"runtime"
	"time"

	rt "ocm/runtime"
	"ocm/runtime/cpu"
)

// The steady-state check: over a run of training steps, the live heap (what a
// collection leaves) must not grow once the warm-up is over. A step that keeps
// something of its own alive (a tape, a cache keyed by step, a pool that never gives
// back) shows up as growth proportional to the steps run.

// Steady-state bounds: the live heap at the end may exceed the live heap after the
// warm-up by steadySlackFrac of it plus steadySlackBytes.
const (
	steadySlackFrac  = 0.02
	steadySlackBytes = 1 << 20
	steadySteps      = 200 // training steps of the bench's check
	steadyWarm       = 20  // of which warm-up
	steadyBatch      = 8   // batch of the bench's check (small UNet)
)

// trimNow calls trim unless it is nil.
func trimNow(trim func()) {
	if trim != nil {
		trim()
	}
}

// heapSnap is the heap after full collections.
type heapSnap struct {
	AllocMiB float64 `json:"heap_alloc_mib"` // live objects
	InuseMiB float64 `json:"heap_inuse_mib"` // spans holding them
}

// liveHeap collects twice (what sync.Pools hold survives one collection) and reads
// the heap.
func liveHeap() (heapSnap, uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return heapSnap{AllocMiB: float64(ms.HeapAlloc) / (1 << 20), InuseMiB: float64(ms.HeapInuse) / (1 << 20)}, ms.HeapAlloc
}

// steadyResult is one steady-state check.
type steadyResult struct {
	Key       string           `json:"key"`
	Name      string           `json:"name"`
	Steps     int              `json:"steps"`
	Warm      int              `json:"warm_up_steps"`
	Batch     int              `json:"batch"`
	Pooled    bool             `json:"pooled"`
	AtWarm    heapSnap         `json:"after_warm_up"`
	AtEnd     heapSnap         `json:"at_end"`
	GrowthMiB float64          `json:"growth_mib"` // live heap at the end less after the warm-up
	Steady    bool             `json:"steady"`     // growth within steadySlackFrac + steadySlackBytes
	Pool      *cpu.PoolStats   `json:"pool,omitempty"`
	Recycle   *rt.RecycleStats `json:"recycle,omitempty"` // Grad's cotangents handed back to the device
	WallS     float64          `json:"wall_s"`
	Error     string           `json:"error,omitempty"`
}

// checkSteady runs step steps times and compares the live heap after warm steps with
// the live heap at the end; it stops at the first error of step. trim (nil for none)
// runs before each reading: it drops the device's recycled buffers, a bounded cache
// whose content depends on when the last collections fell, not a leak.
func checkSteady(step func() error, warm, steps int, trim func()) (r steadyResult, err error) {
	start := time.Now()
	r.Steps, r.Warm = steps, warm
	var at uint64
	for i := 1; i <= steps; i++ {
		if err := step(); err != nil {
			return r, fmt.Errorf("step %d: %w", i, err)
		}
		if i == warm {
			trimNow(trim)
			r.AtWarm, at = liveHeap()
		}
	}
	trimNow(trim)
	end, endBytes := liveHeap()
	runtime.KeepAlive(step) // what the steps hold (the model, its optimiser) is live at both ends
	r.AtEnd, r.WallS = end, time.Since(start).Seconds()
	r.GrowthMiB = end.AllocMiB - r.AtWarm.AllocMiB
	r.Steady = float64(endBytes) <= (1+steadySlackFrac)*float64(at)+steadySlackBytes
	return r, nil
}

// steadyCheck is a steady-state check --bench can run; a check byKey runs only when
// --bench-items names its key.
type steadyCheck struct {
	key, name     string
	pooled, byKey bool
}

// benchSteadyChecks are the bench's checks: the small UNet's training step
// (ocm.Trainer), steadySteps steps at batch steadyBatch, on the training device and,
// when asked for by key, with the buffer pool (which grows to its limit: several GB).
func benchSteadyChecks() []steadyCheck {
	name := fmt.Sprintf("small UNet %d train steps b%d", steadySteps, steadyBatch)
	return []steadyCheck{{"steady_small", name, false, false}, {"steady_small_pool", name + " (pool)", true, true}}
}

// run runs the check on a fresh device.
func (c steadyCheck) run(threads int) *steadyResult {
	dev := rt.NewCPU(rt.CPUOptions{Threads: threads, Pool: c.pooled})
	r := &steadyResult{Steps: steadySteps, Warm: steadyWarm}
	step, _, err := newTrainer(dev, smallConfig(), steadyBatch)
	if err == nil {
		*r, err = checkSteady(step, steadyWarm, steadySteps, dev.DropRecycled)
	}
	if err != nil {
		r.Error = err.Error()
	}
	r.Key, r.Name, r.Batch, r.Pooled = c.key, c.name, steadyBatch, c.pooled
	if c.pooled {
		st := dev.PoolStats()
		r.Pool = &st
	}
	rs := dev.RecycleStats()
	r.Recycle = &rs
	return r
}
