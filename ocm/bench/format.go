package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"ocm/runtime/cpu"
)

// cell formats a median and a best time: GFLOP/s for GEMMs, ms for models.
func (it *benchItem) cell(med, best float64) string {
	if math.IsNaN(med) || med <= 0 {
		return "-"
	}
	if it.Kind == "gemm" {
		return fmt.Sprintf("%.1f (%.1f) GF/s", it.FLOPs/med/1e9, it.FLOPs/best/1e9)
	}
	return fmt.Sprintf("%.2f (%.2f) ms", 1e3*med, 1e3*best)
}

func (it *benchItem) timingCell(t *benchTiming) string {
	if t == nil || t.N == 0 {
		return "-"
	}
	return it.cell(t.MedianS, t.MinS)
}

// benchRatio is the peer's time over ocm's (>1: ocm faster), by median and by best.
func benchRatio(ocm benchTiming, peer *benchTiming) (med, best float64, ok bool) {
	if peer == nil || peer.N == 0 || ocm.N == 0 || !(ocm.MedianS > 0) || !(ocm.MinS > 0) {
		return 0, 0, false
	}
	return peer.MedianS / ocm.MedianS, peer.MinS / ocm.MinS, true
}

// quietRatio is the peer's round median over ocm's in the round where the busier
// side saw the least CPU use by other processes; ok is false unless both sides
// have one median and one other-CPU share per round.
func quietRatio(ocm benchTiming, peer *benchTiming) (ratio float64, round int, other float64, ok bool) {
	if peer == nil {
		return 0, 0, 0, false
	}
	n := len(ocm.RoundMediansS)
	if n == 0 || len(ocm.OtherCPU) != n || len(peer.RoundMediansS) != n || len(peer.OtherCPU) != n {
		return 0, 0, 0, false
	}
	best := -1
	for i := range n {
		if c := max(ocm.OtherCPU[i], peer.OtherCPU[i]); best < 0 || c < other {
			best, other = i, c
		}
	}
	return peer.RoundMediansS[best] / ocm.RoundMediansS[best], best + 1, other, true
}

// formatBenchTable renders the side-by-side table.
func formatBenchTable(items []*benchItem) string {
	var b strings.Builder
	row := func(cols ...string) {
		fmt.Fprintf(&b, "%-46s | %-24s | %-24s | %-13s | %-17s | %-24s | %-5s | %s\n", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7])
	}
	row("item", "ocm", "PyTorch (OpenBLAS)", "ratio", "ratio quiet round", "PyTorch (system BLAS)", "load1", "other CPU ocm/torch")
	b.WriteString(strings.Repeat("-", 46+3+24+3+24+3+13+3+17+3+24+3+5+3+19) + "\n")
	for _, it := range items {
		ratio := "-"
		if med, best, ok := benchRatio(it.OCM, it.peerOf()); ok {
			ratio = fmt.Sprintf("%.2f (%.2f)", med, best)
		}
		load := "-"
		if len(it.OCM.Load1) > 0 {
			load = fmt.Sprintf("%.2f", slices.Max(it.OCM.Load1))
		}
		quiet := "-"
		if r, round, oth, ok := quietRatio(it.OCM, it.peerOf()); ok {
			quiet = fmt.Sprintf("%.2f (#%d, %.0f%%)", r, round, 100*oth)
		}
		other := otherCell(&it.OCM) + "/" + otherCell(it.Torch)
		row(it.Name, it.timingCell(&it.OCM), it.timingCell(it.Torch), ratio, quiet, it.timingCell(it.TorchSystem), load, other)
	}
	b.WriteString("GEMMs: GFLOP/s median (best); models: ms median (best); ratio = PyTorch time / ocm time,\n" +
		"median (best), >1: ocm faster. load1: highest 1-minute load average when ocm measured the item\n" +
		"(ocm's own threads count in it); other CPU: highest share of all CPUs that other processes used\n" +
		"(on a virtual machine with the host's steal time) during the timed calls of ocm / of PyTorch\n" +
		"(OpenBLAS). ratio quiet round: PyTorch's round median\n" +
		"over ocm's in the round (#) where other processes used the least CPU (that share in brackets).\n")
	for _, it := range items {
		if it.TorchConv != nil && it.TorchConv.N > 0 {
			fmt.Fprintf(&b, "  PyTorch conv2d (oneDNN, what unet-s runs) for %s: %s\n", it.Name, it.timingCell(it.TorchConv))
		}
	}
	return b.String()
}

// otherCell is the highest other-process CPU share of t, in percent ("?" when unknown).
func otherCell(t *benchTiming) string {
	if t == nil || len(t.OtherCPU) == 0 {
		return "-"
	}
	if m := slices.Max(t.OtherCPU); m >= 0 {
		return fmt.Sprintf("%.0f%%", 100*m)
	}
	return "?"
}

// maxOtherCPU is the highest other-process CPU share seen on either side.
func maxOtherCPU(items []*benchItem) (ocm, torch float64) {
	for _, it := range items {
		if len(it.OCM.OtherCPU) > 0 {
			ocm = max(ocm, slices.Max(it.OCM.OtherCPU))
		}
		if it.Torch != nil && len(it.Torch.OtherCPU) > 0 {
			torch = max(torch, slices.Max(it.Torch.OtherCPU))
		}
	}
	return ocm, torch
}

// benchGoal is one acceptance target of the issue and whether this run met it.
type benchGoal struct {
	Goal  string  `json:"goal"`
	Value float64 `json:"value"`
	Want  string  `json:"want"`
	Met   bool    `json:"met"`
}

// benchGoals checks the targets: SGEMM 1024 within 1.2× of PyTorch (OpenBLAS), the
// toy-mlp training step faster than PyTorch's (this run's, by the quietest round's
// medians when known, and the README's 7.3 ms median), ocm's JVP at most 2.5× its
// forward; for unet-s, the forward (b16) and training step (b32) at least as fast as
// PyTorch's, the JVP (b32) 1.5× as fast as PyTorch's forward_ad and at most 2× ocm's
// own forward at b32. Missing measurements are left out.
func benchGoals(items []*benchItem) []benchGoal {
	by := map[string]*benchItem{}
	for _, it := range items {
		by[it.Key] = it
	}
	var goals []benchGoal
	if it := by["sgemm_1024"]; it != nil {
		if r, ok := goalRatio(it); ok {
			goals = append(goals, benchGoal{"SGEMM 1024^3: PyTorch (OpenBLAS) time / ocm time", r, ">= 0.83 (within 1.2x)", r >= 1/1.2})
		}
	}
	if it := by["toy_train_step"]; it != nil && it.OCM.N > 0 {
		if r, ok := goalRatio(it); ok {
			goals = append(goals, benchGoal{"toy-mlp train step: PyTorch (OpenBLAS, this run) time / ocm time", r, "> 1", r > 1})
		}
		r := 7.3e-3 / it.OCM.MedianS
		goals = append(goals, benchGoal{"toy-mlp train step: README PyTorch 7.3 ms median / ocm median", r, "> 1", r > 1})
	}
	if g, ok := ownRatioGoal(by["toy_jvp"], by["toy_forward"], "toy-mlp JVP / forward (ocm, medians)", 2.5); ok {
		goals = append(goals, g)
	}
	for _, t := range []struct {
		key, goal string
		want      float64
	}{
		{"unet_s_fwd_16", "unet-s forward b16: PyTorch time / ocm time", 1},
		{"unet_s_train_32", "unet-s train step b32: PyTorch time / ocm time", 1},
		{"unet_s_jvp_32", "unet-s JVP b32: PyTorch forward_ad time / ocm time", 1.5},
	} {
		if it := by[t.key]; it != nil {
			if r, ok := goalRatio(it); ok {
				goals = append(goals, benchGoal{t.goal, r, fmt.Sprintf(">= %.1f", t.want), r >= t.want})
			}
		}
	}
	if g, ok := ownQuietRatioGoal(by["unet_s_jvp_32"], by["unet_s_fwd_32"], "unet-s JVP b32 / forward b32 (ocm", 2); ok {
		goals = append(goals, g)
	}
	return goals
}

// ownQuietRatioGoal is ownRatioGoal taken in the round where other processes used the
// least CPU during both items, as the goals against PyTorch are (a round where only
// one of the two was contended says nothing about their ratio); with no per-round
// timings, the medians. goal is completed with which it used.
func ownQuietRatioGoal(num, den *benchItem, goal string, most float64) (benchGoal, bool) {
	if num == nil || den == nil {
		return benchGoal{}, false
	}
	n := len(num.OCM.RoundMediansS)
	if n == 0 || len(den.OCM.RoundMediansS) != n || len(num.OCM.OtherCPU) != n || len(den.OCM.OtherCPU) != n {
		return ownRatioGoal(num, den, goal+", medians)", most)
	}
	best, other := 0, 2.0
	for i := range n {
		if c := max(num.OCM.OtherCPU[i], den.OCM.OtherCPU[i]); c < other {
			best, other = i, c
		}
	}
	r := num.OCM.RoundMediansS[best] / den.OCM.RoundMediansS[best]
	med := num.OCM.MedianS / den.OCM.MedianS
	text := fmt.Sprintf("%s, round #%d, %.0f%% other CPU; medians %.2f)", goal, best+1, 100*other, med)
	return benchGoal{text, r, fmt.Sprintf("<= %.1f", most), r <= most}, true
}

// ownRatioGoal is the goal that ocm's median time of num is at most most × den's.
func ownRatioGoal(num, den *benchItem, goal string, most float64) (benchGoal, bool) {
	if num == nil || den == nil || num.OCM.N == 0 || den.OCM.N == 0 {
		return benchGoal{}, false
	}
	r := num.OCM.MedianS / den.OCM.MedianS
	return benchGoal{goal, r, fmt.Sprintf("<= %.1f", most), r <= most}, true
}

// steadyGoals are the steady-state checks as targets: the live heap after the last
// step over the live heap after the warm-up.
func steadyGoals(rs []*steadyResult) []benchGoal {
	var goals []benchGoal
	for _, r := range rs {
		if r.Error != "" || !(r.AtWarm.AllocMiB > 0) {
			continue
		}
		want := fmt.Sprintf("<= %.2f + %.0f MiB", 1+steadySlackFrac, float64(steadySlackBytes)/(1<<20))
		goals = append(goals, benchGoal{fmt.Sprintf("%s: live heap end / after %d", r.Name, r.Warm),
			r.AtEnd.AllocMiB / r.AtWarm.AllocMiB, want, r.Steady})
	}
	return goals
}

// peerOf is the PyTorch timing an item is compared with: OpenBLAS's, or for a UNet
// item whose peer ran without OpenBLAS, the system BLAS's (the convolutions are
// oneDNN's either way).
func (it *benchItem) peerOf() *benchTiming {
	if it.Torch == nil && (it.Group == "unet-s" || it.Group == "small") {
		return it.TorchSystem
	}
	return it.Torch
}

// goalRatio is the quiet-round ratio of it, or the pooled median ratio.
func goalRatio(it *benchItem) (float64, bool) {
	if r, _, _, ok := quietRatio(it.OCM, it.peerOf()); ok {
		return r, true
	}
	r, _, ok := benchRatio(it.OCM, it.peerOf())
	return r, ok
}

// formatGoals renders the targets, plus PyTorch's JVP/forward ratios (toy-mlp, unet-s)
// for comparison.
func formatGoals(goals []benchGoal, torchJVPRatio, torchUNetJVPRatio float64) string {
	var b strings.Builder
	for _, g := range goals {
		verdict := "MISSED"
		if g.Met {
			verdict = "met"
		}
		fmt.Fprintf(&b, "target %-66s %6.2f  (want %s): %s\n", g.Goal, g.Value, g.Want, verdict)
	}
	if torchJVPRatio > 0 {
		fmt.Fprintf(&b, "PyTorch (OpenBLAS) toy-mlp JVP / forward: %.2f\n", torchJVPRatio)
	}
	if torchUNetJVPRatio > 0 {
		fmt.Fprintf(&b, "PyTorch unet-s JVP / forward b32: %.2f\n", torchUNetJVPRatio)
	}
	return b.String()
}

// formatModelTable renders the model items' throughput and memory beside ocm's SGEMM
// at 1024³ (this machine's practical ceiling), or "" without model items that count
// FLOPs. Memory is the peak resident set over the item's calls (VmHWM, reset after
// the model is built) and, in brackets, the resident set at that reset.
func formatModelTable(items []*benchItem) string {
	var ceiling *benchItem
	var models []*benchItem
	for _, it := range items {
		switch {
		case it.Key == ceilingKey:
			ceiling = it
		case it.Kind == "model" && it.FLOPs > 0 && it.Group != "toy":
			models = append(models, it)
		}
	}
	if len(models) == 0 {
		return ""
	}
	ceil := 0.0
	if ceiling != nil && ceiling.OCM.N > 0 {
		ceil = ceiling.FLOPs / ceiling.OCM.MedianS / 1e9
	}
	var b strings.Builder
	row := func(cols ...string) {
		fmt.Fprintf(&b, "%-36s | %-9s | %-18s | %-14s | %-19s | %-19s | %s\n", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6])
	}
	row("item", "GFLOP", "ocm GF/s (ceiling)", "PyTorch GF/s", "ocm peak MiB (base)", "PyTorch peak (base)", "params ocm/PyTorch")
	b.WriteString(strings.Repeat("-", 36+3+9+3+18+3+14+3+19+3+19+3+18) + "\n")
	if ceil > 0 {
		row(ceiling.Name+" (ceiling)", fmt.Sprintf("%.2f", ceiling.FLOPs/1e9), fmt.Sprintf("%.1f (100%%)", ceil), "-", "-", "-", "-")
	}
	for _, it := range models {
		own := gflops(it.FLOPs, &it.OCM)
		if own != "-" && ceil > 0 {
			own += fmt.Sprintf(" (%.0f%%)", 100*it.FLOPs/it.OCM.MedianS/1e9/ceil)
		}
		params := "-"
		if it.ParamsOCM > 0 {
			params = fmt.Sprintf("%d/%s", it.ParamsOCM, intOrDash(it.ParamsTorch))
		}
		row(it.Name, fmt.Sprintf("%.2f", it.FLOPs/1e9), own, gflops(it.FLOPs, it.peerOf()), memCell(&it.OCM), memCell(it.peerOf()), params)
	}
	b.WriteString(modelFLOPsNote + "\n")
	b.WriteString("peak MiB: the process's peak resident memory over the item's calls (VmHWM, reset after the model\n" +
		"and its inputs are built, on both sides); base: the resident memory at that reset. The small\n" +
		"UNet's rows are the image pipeline's steps (ocm.Trainer, ocm.HeadFitter: a batch, timesteps and\n" +
		"noise drawn, the EMA); PyTorch's training step is the bare step on fixed inputs.\n")
	for _, it := range models {
		if it.Pool != nil {
			fmt.Fprintf(&b, "pool of %s: %s\n", it.Name, poolLine(*it.Pool))
		}
	}
	return b.String()
}

func intOrDash(n int) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// gflops is flops over t's median time, in GFLOP/s, or "-".
func gflops(flops float64, t *benchTiming) string {
	if t == nil || t.N == 0 || !(t.MedianS > 0) {
		return "-"
	}
	return fmt.Sprintf("%.1f", flops/t.MedianS/1e9)
}

// memCell is the highest peak over rounds and the base of that round, in MiB.
func memCell(t *benchTiming) string {
	if t == nil || len(t.PeakMiB) == 0 {
		return "-"
	}
	i := slices.Index(t.PeakMiB, slices.Max(t.PeakMiB))
	c := fmt.Sprintf("%.0f (%.0f)", t.PeakMiB[i], t.BaseMiB[i])
	if t.PeakSource != "vmhwm" {
		c += " " + t.PeakSource
	}
	return c
}

// poolLine renders a buffer pool's counters.
func poolLine(st cpu.PoolStats) string {
	hit := 0.0
	if st.Gets > 0 {
		hit = float64(st.Hits) / float64(st.Gets)
	}
	return fmt.Sprintf("%d gets, %.0f%% hits, %d puts (%d dropped), held %.0f MiB (peak %.0f), out %.0f MiB (peak %.0f)",
		st.Gets, 100*hit, st.Puts, st.Dropped, mib(st.HeldBytes), mib(st.PeakHeld), mib(st.OutBytes), mib(st.PeakOut))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// formatSteady renders the steady-state checks, or "" without any.
func formatSteady(rs []*steadyResult) string {
	var b strings.Builder
	for _, r := range rs {
		if r.Error != "" {
			fmt.Fprintf(&b, "steady state %s: failed: %s\n", r.Name, r.Error)
			continue
		}
		verdict := "steady"
		if !r.Steady {
			verdict = "GREW"
		}
		fmt.Fprintf(&b, "steady state %s: live heap %.1f MiB after %d steps, %.1f MiB after %d (%+.2f MiB; in use %.1f -> %.1f MiB), %.0f s: %s\n",
			r.Name, r.AtWarm.AllocMiB, r.Warm, r.AtEnd.AllocMiB, r.Steps, r.GrowthMiB, r.AtWarm.InuseMiB, r.AtEnd.InuseMiB, r.WallS, verdict)
		if r.Pool != nil {
			fmt.Fprintf(&b, "  pool: %s\n", poolLine(*r.Pool))
		} else {
			b.WriteString("  pool: off (the training device's; --bench-items steady_small_pool runs the check with it)\n")
		}
		if c := r.Recycle; c != nil {
			fmt.Fprintf(&b, "  recycled cotangents: %d handed back, %d allocations served from them (the kept ones dropped before each heap reading)\n",
				c.Recycled, c.Reused)
		}
	}
	return b.String()
}
