//go:build !purego

package cpu

import xcpu "golang.org/x/sys/cpu"

// winoVector says whether winoInput and winoOutput run their AVX-512F assembly. The
// assembly performs exactly the float32 operations of the Go loops, in the same
// order, so results are bitwise identical; tests switch it off to compare.
var winoVector = xcpu.X86.HasAVX512F

// winoInputAVX512 is winoInput's assembly (v at the run's first tile of channel 0,
// x at the image's first plane).
//
//go:noescape
func winoInputAVX512(v, x *float32, a *winoIn)

// winoInputNarrowAVX512 is winoInputNarrow's assembly (v at the run's first tile of
// channel 0, x at the batch's first value).
//
//go:noescape
func winoInputNarrowAVX512(v, x *float32, a *winoInN)

// winoOutputAVX512 is winoOutput's assembly (res and bias nil when the flags do not
// name them).
//
//go:noescape
func winoOutputAVX512(m, y, res, bias *float32, a *winoOutArgs)

// winoOutputNarrowAVX512 is winoOutputNarrow's assembly.
//
//go:noescape
func winoOutputNarrowAVX512(m, y, res, bias *float32, a *winoOutN)

// winoGradOutAVX512 is winoGradOut's assembly (dm at the run's first tile of channel
// 0, dy at the tile row's first output value of channel 0).
//
//go:noescape
func winoGradOutAVX512(dm, dy *float32, a *winoDyArgs)

// winoGradOutNarrowAVX512 is winoGradOutNarrow's assembly (dm at the run's first
// tile of channel 0, dy at the output gradient's first value).
//
//go:noescape
func winoGradOutNarrowAVX512(dm, dy *float32, a *winoOutN)
