#!/usr/bin/env bash
# GPU check of package cudart in two steps, from the repository root.
#
#   1. Here (with Go, no GPU needed):   cudart/gpu_check.sh build
#      builds bin/cudart.test with CGO_ENABLED=0 (bin/ is git-ignored).
#   2. On the GPU machine (no Go there): cudart/gpu_check.sh run
#      runs it with OCM_CUDA_TEST=1 -test.v and writes under $OUT (default ./report-gpu):
#      cudart_test.log, env.txt (nvidia-smi, ldd, ptxas check of the PTX).
#
# With the device tool, in one call:
#   run(command="cudart/gpu_check.sh run", carry=["bin/cudart.test"], timeout_s=400)
# Options for step 2: OCM_CUDA_DEBUG=1 (sync after every kernel: pinpoints async errors),
# OCM_CUDA_PATH=/folder (where libcudart/libcublas are), extra args go to the test binary
# (e.g. cudart/gpu_check.sh run -test.run 'GPUUnary|GPUGemm' -test.short).
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
build)
	mkdir -p bin
	CGO_ENABLED=0 go test -c -o bin/cudart.test ./cudart && ls -l bin/cudart.test
	;;
run)
	shift
	out="${OUT:-report-gpu}"
	mkdir -p "$out"
	{
		date -u
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
		ldd bin/cudart.test 2>&1
		ldconfig -p | grep -E 'libcuda\.so|libcudart|libcublas' 2>&1
		if command -v ptxas >/dev/null || [[ -x /usr/local/cuda/bin/ptxas ]]; then
			PTXAS=$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)
			for m in elementwise philox nn; do for a in sm_70 sm_90; do
				"$PTXAS" -arch=$a -o /dev/null cudart/ptx/$m.ptx && echo "ptxas $a: $m.ptx OK"
			done; done 2>&1
		fi
	} >"$out/env.txt" 2>&1
	cat "$out/env.txt"
	(cd cudart && OCM_CUDA_TEST=1 GOTRACEBACK=all timeout 380 ../bin/cudart.test -test.v -test.timeout 370s "$@") 2>&1 | tee "$out/cudart_test.log"
	rc=${PIPESTATUS[0]}
	echo "== summary (exit $rc)"
	grep -E '^(--- |ok|FAIL|PASS)|TFLOP|µs each|GPU:|device:' "$out/cudart_test.log" | tee "$out/summary.txt"
	exit "$rc"
	;;
*)
	echo "usage: cudart/gpu_check.sh build|run [test flags]" >&2
	exit 2
	;;
esac
