package bench

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// readLoadavg returns the 1-, 5- and 15-minute load averages (-1 when unknown).
func readLoadavg() [3]float64 {
	l := [3]float64{-1, -1, -1}
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(data)) {
		if i < 3 {
			l[i], _ = strconv.ParseFloat(f, 64)
		}
	}
	return l
}

// cpuSnap is the machine's busy CPU time and this process's, in clock ticks.
type cpuSnap struct {
	wall       time.Time
	busy, self float64
	ok         bool
}

// snapCPU reads /proc/stat and /proc/self/stat (Linux; ok false elsewhere).
func snapCPU() cpuSnap {
	s := cpuSnap{wall: time.Now()}
	st, err1 := os.ReadFile("/proc/stat")
	self, err2 := os.ReadFile("/proc/self/stat")
	if err1 != nil || err2 != nil {
		return s
	}
	line, _, _ := strings.Cut(string(st), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 {
		return s
	}
	// Steal counts as busy: on a virtual machine it is time the host gave to others,
	// as much lost to the measurement as another process's share.
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, _ := strconv.ParseFloat(f[i], 64)
		s.busy += v
	}
	// /proc/self/stat: fields after the ")" of the command name; utime and stime are 14 and 15.
	_, rest, _ := strings.Cut(string(self), ") ")
	g := strings.Fields(rest)
	if len(g) < 13 {
		return s
	}
	ut, _ := strconv.ParseFloat(g[11], 64)
	sy, _ := strconv.ParseFloat(g[12], 64)
	s.self, s.ok = ut+sy, true
	return s
}

// otherCPUFrac is the share of all CPUs other processes (and, on a virtual machine,
// the host: steal time) used between a and b,
// assuming the usual 100 clock ticks per second; -1 when unknown.
func otherCPUFrac(a, b cpuSnap) float64 {
	wall := b.wall.Sub(a.wall).Seconds()
	if !a.ok || !b.ok || wall <= 0 {
		return -1
	}
	const hz = 100
	return max(0, ((b.busy-a.busy)-(b.self-a.self))/hz/(wall*float64(runtime.NumCPU())))
}

// residentMiB is the process's resident memory now (VmRSS of /proc/self/status) in
// MiB, or 0 where that cannot be read.
func residentMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			if f := strings.Fields(rest); len(f) >= 1 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
