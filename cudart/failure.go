package cudart

import "errors"

// DeviceFailure returns the error of a panic raised by the CUDA device (out of device
// memory, a failed CUDA or cuBLAS call, a kernel error), or nil for any other panic.
func DeviceFailure(r any) error {
	err, ok := r.(error)
	if !ok {
		return nil
	}
	var oom *OutOfMemoryError
	var ce *Error
	if errors.As(err, &oom) || errors.As(err, &ce) {
		return err
	}
	return nil
}
