package cli

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// lossWindow is how many of a task's last losses its final loss averages.
const lossWindow = 100

// Progress prints a one-line progress bar per task, redrawn in place and fitted to the
// terminal's width, to a terminal, and nothing when the output is not a terminal or
// with quiet. It keeps the last losses of each training task for the run's record.
type Progress struct {
	mu        sync.Mutex
	w         io.Writer
	on        bool
	width     func() int
	task      string
	first     time.Time // the task's first update
	firstDone int
	updates   int
	lastOut   time.Time
	perValue  float64 // values per example: the loss is a per-example sum
	unit      string  // what one value is: "px", "coord"
	losses    map[string][]float64
}

// NewProgress returns the progress line of w (a terminal, or off).
func NewProgress(w io.Writer, quiet bool) *Progress {
	on := false
	f, isFile := w.(*os.File)
	if isFile && !quiet {
		st, err := f.Stat()
		on = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	p := &Progress{w: w, on: on, perValue: 1, losses: map[string][]float64{}}
	p.width = func() int { return termWidth(f) }
	return p
}

// SetLossScale says how many values one example has (the training losses are sums over
// them) and what a value is called, so that losses are shown and kept per value: the
// mean squared error per pixel (images) or per coordinate (toy data).
func (p *Progress) SetLossScale(values int, unit string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.perValue, p.unit = float64(max(values, 1)), unit
}

// isLossTask reports whether task's loss is a training loss (backbone or heads).
func isLossTask(task string) bool { return task == "train" || strings.HasPrefix(task, "fit ") }

// units names what a task counts (plural, singular).
func units(task string) (string, string) {
	switch {
	case task == "sample":
		return "image-steps", "image-step"
	case isLossTask(task), task == "train classifier":
		return "steps", "step"
	}
	return "", ""
}

// Update reports done of total units of task, with the loss of the last step (NaN
// when the task has none).
func (p *Progress) Update(task string, done, total int, loss float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if task != p.task {
		p.task, p.first, p.firstDone, p.updates = task, now, done, 0
	}
	p.updates++
	if isLossTask(task) && !math.IsNaN(loss) {
		l := append(p.losses[task], loss/p.perValue)
		if len(l) > lossWindow {
			l = l[len(l)-lossWindow:]
		}
		p.losses[task] = l
	}
	if !p.on || (now.Sub(p.lastOut) < 100*time.Millisecond && done < total) {
		return
	}
	p.lastOut = now
	line := p.line(task, done, total, loss, now)
	fmt.Fprintf(p.w, "\r%s\033[K", line)
}

// line is the progress line of one update, at most the terminal's width minus one.
func (p *Progress) line(task string, done, total int, loss float64, now time.Time) string {
	plural, singular := units(task)
	count := fmt.Sprintf("%d/%d", done, total)
	if plural != "" {
		count += " " + plural
	}
	var rate, left, lossText string
	if el := now.Sub(p.first).Seconds(); p.updates >= 2 && el > 0 && done > p.firstDone {
		r := float64(done-p.firstDone) / el
		if plural == "" {
			plural, singular = "units", "unit"
		}
		rate = fmt.Sprintf("%.2f s/%s", 1/r, singular)
		if r >= 1 {
			rate = fmt.Sprintf("%.1f %s/s", r, plural)
		}
		left = time.Duration(float64(total-done)/r*float64(time.Second)).Round(time.Second).String() + " left"
	}
	if isLossTask(task) && !math.IsNaN(loss) {
		label := "loss"
		if p.unit != "" {
			label = "mse/" + p.unit
		}
		lossText = fmt.Sprintf("%s %.4g", label, loss/p.perValue)
	}
	width := p.width() - 1
	// What does not fit goes, in this order: the time left, then the rate (a bar of
	// at least 8 columns is kept when the rest fits); no word is cut.
	for _, parts := range [][]string{{count, rate, left, lossText}, {count, rate, lossText}, {count, lossText}} {
		rest := joinNonEmpty(parts)
		barW := min(24, width-utf8.RuneCountInString(task)-utf8.RuneCountInString(rest)-4)
		if barW >= 8 {
			fill := barW * done / max(total, 1)
			return fmt.Sprintf("%s [%s] %s", task, strings.Repeat("#", fill)+strings.Repeat(".", barW-fill), rest)
		}
		if line := task + " " + rest; utf8.RuneCountInString(line) <= width {
			return line
		}
	}
	return truncate(task+" "+count, width)
}

// joinNonEmpty joins the parts that are not empty with two spaces.
func joinNonEmpty(parts []string) string {
	var out []string
	for _, s := range parts {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, "  ")
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// Done ends the current bar with a summary line (printed also when the output is
// not a terminal).
func (p *Progress) Done(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "ocm: %s\n", msg)
}

// Clear removes an unfinished bar, so that a message can follow on a clean line.
func (p *Progress) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.on && p.task != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// FinalLosses is, per training task of this process, the mean of its last (up to
// 100) losses, per value (see SetLossScale).
func (p *Progress) FinalLosses() map[string]float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]float64{}
	for task, l := range p.losses {
		s := 0.0
		for _, v := range l {
			s += v
		}
		out[task] = s / float64(len(l))
	}
	return out
}

// termWidth is $COLUMNS, else the width of the terminal f, else 80.
func termWidth(f *os.File) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f != nil {
		if n := ttyWidth(f); n > 0 {
			return n
		}
	}
	return 80
}
