package cudart

import (
	"os"
	"path/filepath"
	"strings"
)

// LoadedFiles lists the CUDA libraries mapped into this process (from
// /proc/self/maps, Linux only): the files the loader's sonames resolved to.
func LoadedFiles() []string {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		p := f[len(f)-1]
		base := filepath.Base(p)
		for _, pre := range []string{"libcuda.so", "libcudart.so", "libcublas.so", "libcublasLt.so"} {
			if strings.HasPrefix(base, pre) && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}
