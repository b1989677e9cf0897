#!/usr/bin/env bash
# Regenerates elementwise.ptx, philox.ptx and nn.ptx (embedded by package cudart) from gen.go:
#   cudart/ptx/regen.sh
# The .ptx files must stay at PTX ISA 7.0 / .target sm_70 so that drivers from CUDA 11.0
# on (and so CUDA 12 machines) can JIT it. nvcc 12/13 writes .version 8.x/9.0, so its
# output is not embedded; on a GPU box, compare against it with
#   cudart/ptx/regen.sh nvcc
# which compiles the readable elementwise.cu and philox.cu to /tmp/*.nvcc.ptx and checks
# that ptxas accepts our .ptx files for sm_70 and sm_90.
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == nvcc ]]; then
	for m in elementwise philox nn; do
		nvcc -ptx -arch=sm_70 -o /tmp/$m.nvcc.ptx $m.cu
		for a in sm_70 sm_90; do ptxas -arch=$a -o /dev/null $m.ptx && echo "ptxas $a: $m.ptx OK"; done
	done
	exit 0
fi
go run gen.go .
echo "wrote $(pwd)/elementwise.ptx $(pwd)/philox.ptx $(pwd)/nn.ptx"
