package images

import (
	"fmt"
	"strconv"
	"time"

	"ocm/ocm"
	rt "ocm/runtime"
)

// Fit fits the OCM, SN and NPR heads on the frozen backbone, then computes the
// Analytic-DPM table. By default the heads are fitted together (ocm.JointFitter: per
// step one batch and one backbone pass, a forward-mode JVP with st.Fit.Probes probes,
// and one Adam step per head); st.Fit.Separate fits them one after another, a
// backbone pass per head and step, each head on its own batches. The backbone runs
// in evaluation mode (no dropout: a clean target, ocm-math §3.3) unless
// st.Fit.Backbone is train. A checkpoint after every ctl.Every steps holds every
// head's state and the learning curve so far; with st.Fit.Curve.Images > 0 the curve
// (see Curve) is measured at step 0, every st.Fit.Curve.Every steps (0: at every
// checkpoint; the separate fit: at the start and the end only) and at the end.
func Fit(dev rt.Device, m *Model, data ocm.DataSource, st Settings, prog Progress, ctl *ocm.Control) error {
	ctl = ctl.OrNone()
	m.dataHash = ocm.DataHash(data)
	r := &fitRun{dev: dev, m: m, st: st, prog: prog, ctl: ctl}
	if st.Fit.Separate {
		for i, k := range ocm.HeadKinds() {
			f := ocm.NewHeadFitter(dev, m.Teacher(), m.Heads[k], m.Sched, data, st.fitConfig(st.Seed+uint64(100+i)))
			f.Probes = max(1, st.Fit.Probes)
			r.fitters = append(r.fitters, f)
		}
	} else {
		heads := make([]*ocm.Head, 0, len(ocm.HeadKinds()))
		for _, k := range ocm.HeadKinds() {
			heads = append(heads, m.Heads[k])
		}
		r.joint = ocm.NewJointFitter(dev, m.Teacher(), heads, m.Sched, data, st.fitConfig(st.Seed+100))
		r.joint.Probes = max(1, st.Fit.Probes)
		r.fitters = r.joint.Fitters
	}
	delete(m.Meta, curveKey) // a curve of an earlier fit of the bundle; a resumed one comes back with the checkpoint
	if err := m.resumeFit(dev, ctl, st, r.fitters); err != nil {
		return err
	}
	if err := r.startCurve(); err != nil {
		return err
	}
	ctl.BeginPhase()
	t0, from, c0 := time.Now(), r.step(), r.curveSeconds
	run := r.runSeparate
	if r.joint != nil {
		run = r.runJoint
	}
	if err := run(); err != nil {
		return err
	}
	seconds := time.Since(t0).Seconds() - (r.curveSeconds - c0) // the curve's points are not the fit's
	watch := &ocm.Watch{Task: "analytic-dpm table (steps)", Progress: prog, Stop: ctl.ShouldStop}
	if m.MsEps = ocm.MsEps(dev, m.Teacher(), m.Sched, data, st.MsEpsPerStep, st.Seed+200, watch); m.MsEps == nil {
		return ctl.Checkpoint(ocm.PhaseFit, r.step(), true, false, r.save)
	}
	for _, fi := range r.fitters {
		fi.EMA.Swap(fi.Head.Params())
	}
	if err := r.endCurve(); err != nil {
		return err
	}
	r.record(seconds, r.step()-from)
	return nil
}

// fitRun is one call of Fit: the fitters (joint, or one per head), the learning
// curve and the run's control.
type fitRun struct {
	dev     rt.Device
	m       *Model
	st      Settings
	prog    Progress
	ctl     *ocm.Control
	joint   *ocm.JointFitter  // nil for the separate fit
	fitters []*ocm.HeadFitter // in the order of ocm.HeadKinds
	seconds [3]float64        // separate fit: this process's seconds per head
	curve   *Curve            // nil without a learning curve
	// curveSeconds is this process's time measuring the curve (not counted in the
	// fit's seconds per step).
	curveSeconds float64
}

// step is the fit phase's step: the joint fit's, or the steps of all heads together.
func (r *fitRun) step() int {
	if r.joint != nil {
		return r.joint.Step()
	}
	n := 0
	for _, f := range r.fitters {
		n += f.Step
	}
	return n
}

// save writes a checkpoint: the model (its metadata holds the curve so far) and
// every head's optimisation state.
func (r *fitRun) save() (string, error) {
	step := r.step()
	f := r.m.checkpointFile(ocm.PhaseFit, step, r.st)
	for i, fi := range r.fitters {
		fi.Optimisation(names(fi.Head.Params())).AddTo(f, ocm.StatePrefix(fitPhase(ocm.HeadKinds()[i])))
	}
	r.ctl.StampWall(f)
	return ocm.WriteCheckpoint(r.ctl.Dir, ocm.CheckpointName(ocm.PhaseFit, step), f)
}

// runJoint fits the heads together to the budget, measuring the curve on its cadence
// before each checkpoint so that the checkpoint holds the point.
func (r *fitRun) runJoint() error {
	steps, ctl := r.st.FitSteps, r.ctl
	for r.joint.Step() < steps {
		losses, err := r.joint.FitStep()
		if err != nil {
			return err
		}
		step := r.joint.Step()
		if r.prog != nil {
			r.prog("fit heads", step, steps, losses[0])
		}
		if r.curveDue(step) {
			if err := r.measure(step, true); err != nil {
				return err
			}
		}
		if err := ctl.Checkpoint(ocm.PhaseFit, step, ctl.ShouldStop(), ctl.Due(step, steps), r.save); err != nil {
			return err
		}
	}
	return nil
}

// runSeparate fits the heads one after another, each to the budget.
func (r *fitRun) runSeparate() error {
	steps, ctl := r.st.FitSteps, r.ctl
	total := steps * len(r.fitters)
	for i, fi := range r.fitters {
		t0 := time.Now()
		for fi.Step < steps {
			loss, err := fi.FitStep()
			if err != nil {
				return err
			}
			if r.prog != nil {
				r.prog("fit "+ocm.HeadKinds()[i].String()+" head", r.step(), total, loss)
			}
			if err := ctl.Checkpoint(ocm.PhaseFit, r.step(), ctl.ShouldStop(), ctl.Due(fi.Step, steps), r.save); err != nil {
				return err
			}
		}
		r.seconds[i] = time.Since(t0).Seconds()
	}
	return nil
}

// record writes the fit's settings and timings into the model's metadata; done is
// the steps this process took.
func (r *fitRun) record(seconds float64, done int) {
	m := r.m
	for k, v := range r.st.fitRecord() {
		m.Meta[k] = v
	}
	m.Meta["head_steps"] = strconv.Itoa(r.st.FitSteps)
	m.Meta["fit_seconds"] = fmt.Sprintf("%.1f", r.ctl.WallSeconds())
	delete(m.Meta, "fit_seconds_per_step") // an earlier fit's
	if r.joint != nil && done > 0 {
		m.Meta["fit_seconds_per_step"] = fmt.Sprintf("%.3f", seconds/float64(done))
	}
	delete(m.Meta, "curve_seconds")
	if r.curve != nil {
		m.Meta["curve_seconds"] = fmt.Sprintf("%.1f", r.curveSeconds)
	}
	for i, k := range ocm.HeadKinds() {
		delete(m.Meta, "fit_seconds_per_step."+k.String())
		if r.seconds[i] > 0 {
			m.Meta["fit_seconds_per_step."+k.String()] = fmt.Sprintf("%.3f", r.seconds[i]/float64(r.st.FitSteps))
		}
	}
}

func fitPhase(k ocm.HeadKind) string { return ocm.PhaseFit + ":" + k.String() }

// resumeFit restores the model and every head's state from a fit checkpoint.
func (m *Model) resumeFit(dev rt.Device, ctl *ocm.Control, st Settings, fitters []*ocm.HeadFitter) error {
	if ok, err := ctl.ResumingFit("images"); !ok || err != nil {
		return err
	}
	if err := m.restore(dev, ctl, st); err != nil {
		return err
	}
	for i, f := range fitters {
		if err := ctl.RestoreOpt(dev, f.Optimisation(names(f.Head.Params())), fitPhase(ocm.HeadKinds()[i]), st.FitSteps); err != nil {
			return err
		}
	}
	ctl.Resume = nil
	return nil
}
