#!/usr/bin/env bash
# The one prepared call for a lent GPU (issue 14), in two halves, from the repository root.
#
#   1. Here, with Go:      cudart/gpucall/gpucall.sh prepare
#      builds (CGO_ENABLED=0) the cudart, runtime and autodiff test binaries and the ocm
#      binary, gzipped, into bin/gpucall/ (git-ignored) with the Fashion-MNIST IDX files,
#      checks that they and the working tree fit the device tool's 64 MiB, and prints
#      the call:
#        run(command="cudart/gpucall/gpucall.sh run", carry=["bin/gpucall"], timeout_s=540)
#   2. On the GPU machine (no Go there): cudart/gpucall/gpucall.sh run
#      runs, each under its own time limit, within 8 minutes in all, writing under $OUT:
#        env.txt           nvidia-smi, the libraries found, ptxas on the PTX when present
#        cudart.log        package cudart on the GPU (OCM_CUDA_TEST=1): every op against
#                          the CPU, the UNet training/fit/sampling steps against the CPU,
#                          the allocator over OCM_GPU_TRAIN_STEPS (1000) training steps,
#                          SGEMM fp32/TF32 speed, launch overhead, and unet-s timings
#                          (training step b128, sampling forward b256, JVP/forward b128)
#        runtime.log       package runtime (its device self-test on CUDA)
#        autodiff.log      package autodiff (on the CPU: it has no device switch)
#        toy-cuda/, toy-cpu/  ocm --train --fit --eval on mog40, the same seed on both
#        torch_gpu.json    ../shared/bench/torch_gpu.py (PyTorch eager on the same card),
#                          when python3 with torch and the script are there
#        unet-s/           in the minutes left, unet-s trained on Fashion-MNIST, saved as
#                          a bundle (unet-s.safetensors.zst)
#        summary.txt       one line per step: what ran, its exit status and time
#
# --dry-run (either half): tiny sizes on the CPU, so the plumbing is tested anywhere;
# CI runs `cudart/gpucall/gpucall.sh dry-run` (prepare --dry-run, then run --dry-run).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
mode=${1:-}
shift || true
dry=0
[[ "${1:-}" == --dry-run ]] && dry=1
bin=$root/bin/gpucall
budget=480 # seconds for the whole run half

prepare() {
	export PATH="/usr/local/go/bin:$PATH"
	rm -rf "$bin" && mkdir -p "$bin"
	local flags=(-trimpath -ldflags=-s\ -w) # smaller binaries to carry
	((dry)) && flags=()                      # the dry run reuses the build cache of go test ./...
	for p in cudart runtime autodiff; do
		CGO_ENABLED=0 go test -c "${flags[@]}" -o "$bin/$p.test" "./$p" || return 1
	done
	CGO_ENABLED=0 go build "${flags[@]}" -o "$bin/ocm" . || return 1
	gzip -9 "$bin"/*.test "$bin/ocm"
	local fm=/usr/share/datasets/fashion-mnist
	if ((dry == 0)) && [[ -d $fm ]]; then
		mkdir -p "$bin/fashion-mnist" && cp "$fm"/*-ubyte.gz "$bin/fashion-mnist/"
	fi
	local tree carried
	tree=$(git ls-files -z | xargs -0 cat 2>/dev/null | wc -c)
	carried=$(du -cb "$bin" | tail -1 | cut -f1)
	echo "prepared $bin: $((carried >> 20)) MiB carried + $((tree >> 20)) MiB tree of 64 MiB"
	if ((carried + tree > 64 << 20)); then
		echo "too large for the device tool (64 MiB with the tree)" >&2
		return 1
	fi
	echo 'run(command="cudart/gpucall/gpucall.sh run", carry=["bin/gpucall"], timeout_s=540)'
}

# step NAME LIMIT CMD...: runs CMD with at most LIMIT seconds (and no more than the
# budget left), its output in $OUT/NAME.log, and a line in summary.txt. After LIMIT it
# gets SIGTERM (ocm then finishes its step and writes a checkpoint), KILL GRACE seconds
# later (default 5).
step() {
	local name=$1 limit=$2 grace=${GRACE:-5}
	shift 2
	local left=$((budget - SECONDS))
	((limit > left)) && limit=$left
	if ((limit < 5)); then
		echo "$name: skipped, out of time" | tee -a "$OUT/summary.txt"
		return 0
	fi
	local t0=$SECONDS
	timeout -k "$grace" "$limit" "$@" >"$OUT/$name.log" 2>&1
	local rc=$?
	echo "$name: exit $rc in $((SECONDS - t0)) s (limit $limit s)" | tee -a "$OUT/summary.txt"
	return 0
}

run() {
	OUT=${OUT:-$root/report-gpucall}
	mkdir -p "$OUT"
	: >"$OUT/summary.txt"
	local work
	work=$(mktemp -d)
	for f in "$bin"/*.gz; do gunzip -c "$f" >"$work/$(basename "${f%.gz}")" && chmod +x "$work/$(basename "${f%.gz}")"; done
	local dev=cuda gpuenv=(env OCM_CUDA_TEST=1) small=() toy=(--train --fit --eval --train-steps 3000 --fit-steps 1000 --eval-samples 2000 --eval-seeds 3)
	local sel=() rsel=() trainSteps=1000
	if ((dry)); then
		dev=cpu gpuenv=(env) trainSteps=20
		sel=(-test.run 'TestStub|TestFakeDeviceNN|TestPTXSim' -test.short)
		rsel=(-test.run 'SelfTest')
		toy=(--train --fit --sample --train-steps 20 --fit-steps 10 --num-samples 100) # no --eval: 20 steps give NaN metrics
	fi
	{
		date -u
		nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
		ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcudart|libcublas' || echo "no CUDA libraries in the loader cache"
		if command -v ptxas >/dev/null; then
			for m in elementwise philox nn; do ptxas -arch=sm_90 -o /dev/null "cudart/ptx/$m.ptx" && echo "ptxas sm_90: $m.ptx OK"; done 2>&1
		fi
		"$work/ocm" --doctor 2>&1
	} >"$OUT/env.txt" 2>&1
	echo "env: $(head -3 "$OUT/env.txt" | tr '\n' ' ')" | tee -a "$OUT/summary.txt"
	(cd cudart && step cudart 200 "${gpuenv[@]}" OCM_GPU_TRAIN_STEPS=$trainSteps GOTRACEBACK=all "$work/cudart.test" -test.v -test.timeout 190s "${sel[@]}")
	(cd runtime && step runtime 60 "${gpuenv[@]}" "$work/runtime.test" -test.v -test.short -test.timeout 55s "${rsel[@]}")
	(cd autodiff && step autodiff 40 "$work/autodiff.test" -test.short -test.timeout 35s)
	for d in "$dev" cpu; do
		step "toy-$d" 90 "$work/ocm" --data mog40 --device "$d" --out "$OUT/toy-$d" --quiet "${toy[@]}"
		((dry)) && break
	done
	local torch=
	for p in ../shared/bench/torch_gpu.py shared/bench/torch_gpu.py; do [[ -f $p ]] && torch=$p && break; done
	if ((dry == 0)) && [[ -n $torch ]] && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
		step torch_gpu 90 env OUT="$OUT" python3 "$torch"
	else
		echo "torch_gpu: skipped (no torch_gpu.py, torch or CUDA in python3${dry:+; dry run})" | tee -a "$OUT/summary.txt"
	fi
	local fm=$bin/fashion-mnist unet=unet-s steps=100000
	if ((dry)); then
		fm=/usr/share/datasets/fashion-mnist unet=small steps=2
	fi
	if [[ -f $fm/train-images-idx3-ubyte.gz ]]; then
		local left=$((budget - SECONDS - 40))
		GRACE=30 step unet-s $left "$work/ocm" --train --data fashion-mnist --data-dir "$fm" --unet $unet --device "$dev" \
			--train-steps $steps --batch $((dry ? 2 : 128)) --checkpoint-every 0 --checkpoint-keep 1 --out "$OUT/unet-s" \
			--weights "$OUT/unet-s/unet-s.safetensors.zst" --quiet
		echo "unet-s: $(ls "$OUT/unet-s" 2>/dev/null | tr '\n' ' ')" | tee -a "$OUT/summary.txt"
	else
		echo "unet-s: skipped (no Fashion-MNIST files at $fm)" | tee -a "$OUT/summary.txt"
	fi
	rm -rf "$work"
	grep -hE '^(--- FAIL|FAIL|ok)|allocator over|TFLOP|µs each|gradients: worst' "$OUT"/*.log 2>/dev/null | tee -a "$OUT/summary.txt"
}

case "$mode" in
prepare) prepare ;;
run) run ;;
dry-run)
	dry=1
	prepare || exit 1
	OUT=$(mktemp -d)
	export OUT
	run
	# The plumbing worked when every step ran and wrote its log.
	for f in env.txt cudart.log runtime.log autodiff.log toy-cpu.log summary.txt; do
		[[ -s $OUT/$f ]] || { echo "dry run: $f missing" >&2; exit 1; }
	done
	if grep -q 'exit [1-9]' "$OUT/summary.txt"; then
		echo "dry run: a step failed:" >&2
		grep 'exit [1-9]' "$OUT/summary.txt" >&2
		exit 1
	fi
	echo "dry run ok: $OUT"
	;;
*)
	echo "usage: cudart/gpucall/gpucall.sh prepare|run [--dry-run] | dry-run" >&2
	exit 2
	;;
esac
