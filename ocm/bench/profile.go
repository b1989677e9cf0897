package bench

import (
	"os"
	"runtime/pprof"
)

// StartCPUProfile starts a Go CPU profile written to path (ocm --cpuprofile); stop
// ends it.
func StartCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
