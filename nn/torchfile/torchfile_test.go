package torchfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

// sample is a state dict with a contiguous matrix, a transposed view and an offset
// view sharing one storage, a parameter, and F16, BF16, F64 and I64 storages.
func sample() ([]fakeTensor, []*fakeStorage) {
	a := f32Storage("0", 1, 2, 3, 4, 5, 6, 7)
	h := &fakeStorage{key: "1", typ: "HalfStorage", numel: 3, data: []byte{0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00}} // 1, −2, 2^-24
	bf := &fakeStorage{key: "2", typ: "BFloat16Storage", numel: 2, data: []byte{0x80, 0x3f, 0x40, 0xc0}}        // 1, −3
	d := &fakeStorage{key: "3", typ: "DoubleStorage", numel: 1, data: binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.25))}
	l := &fakeStorage{key: "4", typ: "LongStorage", numel: 1, data: binary.LittleEndian.AppendUint64(nil, uint64(1<<20))}
	ts := []fakeTensor{
		{name: "w", st: a, shape: []int{2, 3}, strides: []int{3, 1}},
		{name: "wt", st: a, shape: []int{3, 2}, strides: []int{1, 3}},
		{name: "tail", st: a, offset: 4, shape: []int{3}, strides: []int{1}, parameter: true},
		{name: "h", st: h, shape: []int{3}, strides: []int{1}},
		{name: "bf", st: bf, shape: []int{2}, strides: []int{1}},
		{name: "d", st: d, shape: []int{}, strides: []int{}},
		{name: "n", st: l, shape: []int{}, strides: []int{}},
	}
	return ts, []*fakeStorage{a, h, bf, d, l}
}

func checkSample(t *testing.T, f *File) {
	t.Helper()
	want := map[string][]float32{
		"w": {1, 2, 3, 4, 5, 6}, "wt": {1, 4, 2, 5, 3, 6}, "tail": {5, 6, 7},
		"h": {1, -2, float32(math.Ldexp(1, -24))}, "bf": {1, -3}, "d": {0.25}, "n": {1 << 20},
	}
	if len(f.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(want))
	}
	for name, w := range want {
		got, ok := f.Get(name)
		if !ok {
			t.Fatalf("no tensor %q", name)
		}
		if !slices.Equal(got.Data, w) {
			t.Errorf("%s = %v, want %v", name, got.Data, w)
		}
	}
	if s, _ := f.Get("wt"); !slices.Equal(s.Shape, []int{3, 2}) {
		t.Errorf("wt shape %v", s.Shape)
	}
	if s, _ := f.Get("bf"); s.DType != "BF16" {
		t.Errorf("bf dtype %s", s.DType)
	}
}

func TestReadZipAndLegacy(t *testing.T) {
	ts, sts := sample()
	zf, err := Read("zip", zipFile(t, statePickle(ts, false), sts))
	if err != nil {
		t.Fatal(err)
	}
	if zf.Format != "zip" {
		t.Errorf("format %q", zf.Format)
	}
	checkSample(t, zf)
	lf, err := Read("legacy", legacyFile(statePickle(ts, true), sts))
	if err != nil {
		t.Fatal(err)
	}
	if lf.Format != "legacy" {
		t.Errorf("format %q", lf.Format)
	}
	checkSample(t, lf)
}

// expectError checks that data is refused with a one-line *Error containing want.
func expectError(t *testing.T, data []byte, want string) {
	t.Helper()
	_, err := Read("bad.pt", data)
	var te *Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "checkpoint bad.pt: ") {
		t.Fatalf("error %q, want one line containing %q", msg, want)
	}
	t.Log(msg)
}

// withGlobal returns a state-dict pickle in which a tensor's value is replaced by a
// call of mod.name (what a malicious checkpoint does).
func withGlobal(mod, name string, stack bool) []byte {
	p := &pw{}
	p.op(opProto, 4).global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.str("w")
	if stack {
		p.str(mod).str(name).op(opStackGlobal)
	} else {
		p.global(mod, name)
	}
	p.op(opMark).str("echo hi").op(opTuple, opReduce, opSetItem, opStop)
	return p.Bytes()
}

func TestRefusesGlobals(t *testing.T) {
	cases := []struct {
		mod, name string
		stack     bool
		want      string
	}{
		{"os", "system", false, "pickle names os.system, which a state dict never needs"},
		{"posix", "system", false, "pickle names posix.system"},
		{"builtins", "eval", true, "pickle names builtins.eval, which a state dict never needs"},
		{"__main__", "Net", false, "pickle names __main__.Net"},
		{"torch.nn.modules.conv", "Conv2d", false, "pickle names torch.nn.modules.conv.Conv2d"},
		{"torch", "load", false, "pickle names torch.load"},
		{"collections", "OrderedDict\x00os", false, `pickle names collections.OrderedDict\x00os`},
	}
	for _, c := range cases {
		pkl := withGlobal(c.mod, c.name, c.stack)
		expectError(t, zipFile(t, pkl, nil), c.want)
		expectError(t, legacyFile(pkl, nil), c.want)
	}
}

func TestRefusesOpcodes(t *testing.T) {
	// NEWOBJ on an allowed global: builds an object a state dict never holds.
	p := (&pw{}).op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, 0x81, opStop)
	expectError(t, zipFile(t, p.Bytes(), nil), "opcode NEWOBJ")
	// Calling a storage type.
	p = (&pw{}).op(opProto, 2).op(opEmptyDict).str("w").global("torch", "FloatStorage").op(opEmptyTuple, opReduce, opSetItem, opStop)
	expectError(t, zipFile(t, p.Bytes(), nil), "REDUCE calls torch.FloatStorage")
	// Protocol 0 text opcodes.
	expectError(t, zipFile(t, []byte("(dp0\n."), nil), "opcode DICT")
}

func TestBadContainers(t *testing.T) {
	ts, sts := sample()
	good := zipFile(t, statePickle(ts, false), sts)
	for _, n := range []int{len(good) - 1, len(good) - 22, len(good) / 2, 100, 4} {
		expectError(t, good[:n], "")
	}
	expectError(t, good[:len(good)-1], "zip archive")
	// A storage byte changed after the archive was written: its CRC fails.
	bad := bytes.Clone(good)
	i := bytes.Index(bad, sts[0].data)
	bad[i+5] ^= 0x40
	expectError(t, bad, "zip entry archive/data/0: checksum mismatch: the entry is corrupt")
	leg := legacyFile(statePickle(ts, true), sts)
	expectError(t, leg[:len(leg)-3], "truncated")
	expectError(t, []byte("hello"), "not a torch.save file")
	expectError(t, (&pw{}).op(opProto, 2).int(3).op(opStop).Bytes(), "magic number")
}

func TestStorageBounds(t *testing.T) {
	st := f32Storage("0", 1, 2, 3)
	short := []fakeTensor{{name: "w", st: st, shape: []int{2, 2}, strides: []int{2, 1}}}
	expectError(t, zipFile(t, statePickle(short, false), []*fakeStorage{st}), `storage "0" holds 3 values, shorter than its tensor of size [2 2]`)
	expectError(t, legacyFile(statePickle(short, true), []*fakeStorage{st}), "shorter than its tensor")
	offset := []fakeTensor{{name: "w", st: st, offset: 2, shape: []int{2}, strides: []int{1}}}
	expectError(t, zipFile(t, statePickle(offset, false), []*fakeStorage{st}), "shorter than its tensor")
	far := []fakeTensor{{name: "w", st: st, offset: 1<<63 - 2, shape: []int{4}, strides: []int{1}}}
	expectError(t, zipFile(t, statePickle(far, false), []*fakeStorage{st}), "less than its tensor's offset 9223372036854775806")
	// The id claims more values than the entry holds, and more than the file.
	lie := &fakeStorage{key: "0", typ: "FloatStorage", numel: 4, data: st.data}
	ok := []fakeTensor{{name: "w", st: lie, shape: []int{4}, strides: []int{1}}}
	expectError(t, zipFile(t, statePickle(ok, false), []*fakeStorage{lie}), "holds 12 bytes, but its tensor header says 4 F32 values")
	expectError(t, legacyFile(statePickle(ok, true), []*fakeStorage{lie}), "truncated")
	huge := &fakeStorage{key: "0", typ: "FloatStorage", numel: 1 << 40, data: st.data}
	hugeT := []fakeTensor{{name: "w", st: huge, shape: []int{1 << 40}, strides: []int{1}}}
	expectError(t, zipFile(t, statePickle(hugeT, false), []*fakeStorage{huge}), "more than the")
	// A broadcast view of one value claiming 2^39 values.
	one := f32Storage("0", 1)
	bcast := []fakeTensor{{name: "w", st: one, shape: []int{1 << 20, 1 << 19}, strides: []int{0, 0}}}
	expectError(t, zipFile(t, statePickle(bcast, false), []*fakeStorage{one}), "more values than a file of this size")
	missing := []fakeTensor{{name: "w", st: st, shape: []int{3}, strides: []int{1}}}
	expectError(t, zipFile(t, statePickle(missing, false), nil), `the archive has no entry archive/data/0`)
}

func TestFlatten(t *testing.T) {
	st := f32Storage("0", 1, 2)
	p := &pw{}
	p.op(opProto, 2, opEmptyDict)
	p.str("epoch").int(7).op(opSetItem)
	p.str("model").op(opEmptyDict).str("conv.weight").tensor(fakeTensor{st: st, shape: []int{2}, strides: []int{1}}, false).op(opSetItem, opSetItem)
	p.str("ema").op(opEmptyList).tensor(fakeTensor{st: st, shape: []int{1}, strides: []int{1}, offset: 1}, false).op(opAppend, opSetItem)
	p.op(opStop)
	f, err := Read("nested", zipFile(t, p.Bytes(), []*fakeStorage{st}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ts := range f.Tensors {
		names = append(names, ts.Name)
	}
	if !slices.Equal(names, []string{"model.conv.weight", "ema.0"}) || !slices.Equal(f.Skipped, []string{"epoch"}) {
		t.Fatalf("names %v, skipped %v", names, f.Skipped)
	}
	if e, _ := f.Get("ema.0"); e.Data[0] != 2 {
		t.Fatalf("ema.0 = %v", e.Data)
	}
	// A dict that contains itself.
	p = &pw{}
	p.op(opProto, 2, opEmptyDict, opBinPut, 0).str("self").op(opBinGet, 0, opSetItem, opStop)
	expectError(t, zipFile(t, p.Bytes(), nil), "already used elsewhere")
	p = &pw{}
	p.str("weights").op(opStop)
	expectError(t, zipFile(t, p.Bytes(), nil), "pickle holds a string, not a dict of tensors")
	// A list at the top, as [state_dict, optimizer, epoch] checkpoints are.
	p = &pw{}
	p.op(opProto, 2, opEmptyList).op(opEmptyDict).str("w").tensor(fakeTensor{st: st, shape: []int{2}, strides: []int{1}}, false)
	p.op(opSetItem, opAppend).int(3).op(opAppend, opStop)
	f, err = Read("list", zipFile(t, p.Bytes(), []*fakeStorage{st}))
	if err != nil || len(f.Tensors) != 1 || f.Tensors[0].Name != "0.w" || !slices.Equal(f.Skipped, []string{"1"}) {
		t.Fatalf("list checkpoint: %v %+v", err, f)
	}
}

func TestHalfToFloat(t *testing.T) {
	cases := map[uint16]float32{0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: float32(math.Ldexp(1, -24)),
		0x03ff: float32(math.Ldexp(1023, -24)), 0x8000: float32(math.Copysign(0, -1)), 0x3555: 0.333251953125}
	for h, want := range cases {
		if got := halfToFloat(h); got != want || math.Signbit(float64(got)) != math.Signbit(float64(want)) {
			t.Errorf("halfToFloat(%#04x) = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(halfToFloat(0x7c00)), 1) || !math.IsNaN(float64(halfToFloat(0x7e00))) {
		t.Error("inf/nan")
	}
}

func TestSniff(t *testing.T) {
	ts, sts := sample()
	if Sniff(zipFile(t, statePickle(ts, false), sts)) != "zip" || Sniff(legacyFile(statePickle(ts, true), sts)) != "legacy" || Sniff([]byte("{}")) != "" {
		t.Fatal("sniff")
	}
	if !bytes.HasPrefix(legacyFile(nil, nil), []byte{0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}) {
		t.Fatal("legacy magic bytes differ from torch's")
	}
}
