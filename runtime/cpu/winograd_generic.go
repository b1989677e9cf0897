//go:build !amd64 || purego

package cpu

// winoVector is false without assembly: the Winograd transforms run their Go loops.
var winoVector = false

func winoInputAVX512(v, x *float32, a *winoIn) { panic("cpu: no AVX-512 Winograd kernel") }

func winoInputNarrowAVX512(v, x *float32, a *winoInN) { panic("cpu: no AVX-512 Winograd kernel") }

func winoOutputAVX512(m, y, res, bias *float32, a *winoOutArgs) {
	panic("cpu: no AVX-512 Winograd kernel")
}

func winoOutputNarrowAVX512(m, y, res, bias *float32, a *winoOutN) {
	panic("cpu: no AVX-512 Winograd kernel")
}

func winoGradOutAVX512(dm, dy *float32, a *winoDyArgs) { panic("cpu: no AVX-512 Winograd kernel") }

func winoGradOutNarrowAVX512(dm, dy *float32, a *winoOutN) { panic("cpu: no AVX-512 Winograd kernel") }
