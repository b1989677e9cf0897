package cudart

import "fmt"

// LoadError says why CUDA could not be used: what was tried and what to do. Its
// message is one line.
type LoadError struct {
	Msg string
}

// Error is the one-line message.
func (e *LoadError) Error() string { return e.Msg }

// Error is a failed CUDA, driver or cuBLAS call.
type Error struct {
	Call string // the C function, "cublasSgemmStridedBatched"
	Code int32  // its status code
	Name string // the status name, "cudaErrorMemoryAllocation"
}

// Error is the one-line message.
func (e *Error) Error() string {
	return fmt.Sprintf("cuda: %s failed: %s (%d)", e.Call, e.Name, e.Code)
}

// cudaErrorNames names the common cudaError_t codes (runtime API).
var cudaErrorNames = map[int32]string{
	0: "cudaSuccess", 1: "cudaErrorInvalidValue", 2: "cudaErrorMemoryAllocation",
	3: "cudaErrorInitializationError", 4: "cudaErrorCudartUnloading",
	34: "cudaErrorStubLibrary", 35: "cudaErrorInsufficientDriver",
	36: "cudaErrorCallRequiresNewerDriver", 46: "cudaErrorDevicesUnavailable",
	98: "cudaErrorInvalidDeviceFunction", 100: "cudaErrorNoDevice", 101: "cudaErrorInvalidDevice",
	200: "cudaErrorInvalidKernelImage", 201: "cudaErrorDeviceUninitialized",
	209: "cudaErrorNoKernelImageForDevice", 218: "cudaErrorInvalidPtx",
	221: "cudaErrorJitCompilerNotFound", 222: "cudaErrorUnsupportedPtxVersion",
	400: "cudaErrorInvalidResourceHandle", 500: "cudaErrorSymbolNotFound",
	700: "cudaErrorIllegalAddress", 701: "cudaErrorLaunchOutOfResources",
	702: "cudaErrorLaunchTimeout", 719: "cudaErrorLaunchFailure", 999: "cudaErrorUnknown",
}

// cuResultNames names the common CUresult codes (driver API).
var cuResultNames = map[int32]string{
	0: "CUDA_SUCCESS", 1: "CUDA_ERROR_INVALID_VALUE", 2: "CUDA_ERROR_OUT_OF_MEMORY",
	3: "CUDA_ERROR_NOT_INITIALIZED", 4: "CUDA_ERROR_DEINITIALIZED", 34: "CUDA_ERROR_STUB_LIBRARY",
	100: "CUDA_ERROR_NO_DEVICE", 101: "CUDA_ERROR_INVALID_DEVICE", 200: "CUDA_ERROR_INVALID_IMAGE",
	201: "CUDA_ERROR_INVALID_CONTEXT", 209: "CUDA_ERROR_NO_BINARY_FOR_GPU",
	218: "CUDA_ERROR_INVALID_PTX", 221: "CUDA_ERROR_JIT_COMPILER_NOT_FOUND",
	222: "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", 300: "CUDA_ERROR_INVALID_SOURCE",
	400: "CUDA_ERROR_INVALID_HANDLE", 500: "CUDA_ERROR_NOT_FOUND", 700: "CUDA_ERROR_ILLEGAL_ADDRESS",
	701: "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", 702: "CUDA_ERROR_LAUNCH_TIMEOUT",
	719: "CUDA_ERROR_LAUNCH_FAILED", 999: "CUDA_ERROR_UNKNOWN",
}

// cublasStatusNames names cublasStatus_t codes.
var cublasStatusNames = map[int32]string{
	0: "CUBLAS_STATUS_SUCCESS", 1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR",
	13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR",
	15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func statusName(table map[int32]string, prefix string, code int32) string {
	if n, ok := table[code]; ok {
		return n
	}
	return fmt.Sprintf("%s%d", prefix, code)
}

// rtErr turns a cudaError_t into an error (nil for cudaSuccess).
func rtErr(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Call: call, Code: code, Name: statusName(cudaErrorNames, "cudaError", code)}
}

// drvErr turns a CUresult into an error (nil for CUDA_SUCCESS).
func drvErr(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Call: call, Code: code, Name: statusName(cuResultNames, "CUDA_ERROR_", code)}
}

// blasErr turns a cublasStatus_t into an error (nil for CUBLAS_STATUS_SUCCESS).
func blasErr(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Call: call, Code: code, Name: statusName(cublasStatusNames, "CUBLAS_STATUS_", code)}
}

// must panics with err: a failed CUDA call inside a Device method is fatal (the
// runtime treats device failures like programmer errors).
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// OutOfMemoryError is what the device panics with when CUDA cannot allocate a buffer
// even after the cache was returned: the request and the memory left, so the message
// tells the user what to shrink. The command line turns it into a one-line error.
type OutOfMemoryError struct {
	Requested, Free, Total int64 // bytes
}

// Error is the one-line message.
func (e *OutOfMemoryError) Error() string {
	return fmt.Sprintf("cudart: out of GPU memory: requested %s, %s free of %s (lower --batch or --num-samples, or use --device cpu)",
		byteSize(e.Requested), byteSize(e.Free), byteSize(e.Total))
}

// byteSize formats n bytes with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[i])
}
