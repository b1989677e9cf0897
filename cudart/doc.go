// Package cudart is the CUDA back end of ocm: a runtime.Device that keeps tensors in
// GPU memory and runs them with cuBLAS and hand-written PTX kernels.
//
// It is the only package of ocm that imports github.com/ebitengine/purego. Nothing is
// linked against CUDA at build time (CGO_ENABLED=0 builds the GPU-capable binary): Open
// loads libcuda.so.1, libcudart.so.{13,12,11.0} and libcublas.so.{13,12,11} with dlopen at run
// time and fails fast, with a one-line *LoadError, on machines without them.
//
// Threads: driver contexts belong to OS threads, so every Device method locks its
// goroutine to its thread and makes the primary context current before calling CUDA.
// All work goes to one stream, so buffers freed by the garbage collector can be reused
// by later work without further synchronization.
//
// What runs natively and what falls back to the host is listed in Device's comment.
package cudart
