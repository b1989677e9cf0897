package cudart

// The CUDA constants ocm passes, named as in the headers (cuda.h, driver_types.h,
// cublas_api.h); TestHeaderConstants checks each against the installed headers.
const (
	cuDeviceAttributeMultiprocessorCount    = 16 // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
	cuDeviceAttributeComputeCapabilityMajor = 75 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
	cuDeviceAttributeComputeCapabilityMinor = 76 // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
	cuJitErrorLogBuffer                     = 5  // CU_JIT_ERROR_LOG_BUFFER
	cuJitErrorLogBufferSizeBytes            = 6  // CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES

	cudaMemcpyHostToDevice   = 1 // cudaMemcpyHostToDevice
	cudaMemcpyDeviceToHost   = 2 // cudaMemcpyDeviceToHost
	cudaMemcpyDeviceToDevice = 3 // cudaMemcpyDeviceToDevice
	cudaStreamNonBlocking    = 1 // cudaStreamNonBlocking
	cudaErrorMemoryAlloc     = 2 // cudaErrorMemoryAllocation

	cublasOpN               = 0 // CUBLAS_OP_N
	cublasOpT               = 1 // CUBLAS_OP_T
	cublasTF32TensorOpMath  = 3 // CUBLAS_TF32_TENSOR_OP_MATH
	libPropertyMajorVersion = 0 // MAJOR_VERSION (library_types.h)
	libPropertyMinorVersion = 1 // MINOR_VERSION
	libPropertyPatchLevel   = 2 // PATCH_LEVEL
)
