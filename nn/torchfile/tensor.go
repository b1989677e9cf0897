package torchfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// dtype is an element type of a typed storage.
type dtype struct {
	name string // safetensors' name
	size int    // bytes per element
}

// storageTypes are the typed storages a state dict's persistent ids name.
var storageTypes = map[string]dtype{
	"FloatStorage": {"F32", 4}, "DoubleStorage": {"F64", 8}, "HalfStorage": {"F16", 2},
	"BFloat16Storage": {"BF16", 2}, "LongStorage": {"I64", 8}, "IntStorage": {"I32", 4},
	"ShortStorage": {"I16", 2}, "CharStorage": {"I8", 1}, "ByteStorage": {"U8", 1},
	"BoolStorage": {"BOOL", 1},
}

// The callables REDUCE may call.
const (
	fnOrderedDict    = "collections.OrderedDict"
	fnRebuildTensor  = "torch._utils._rebuild_tensor_v2"
	fnRebuildParam   = "torch._utils._rebuild_parameter"
	fnRebuildParamSt = "torch._utils._rebuild_parameter_with_state"
)

// allowedGlobal reports whether g is on the allow-list.
func allowedGlobal(g globalRef) bool {
	switch g.module + "." + g.name {
	case fnOrderedDict, fnRebuildTensor, fnRebuildParam, fnRebuildParamSt:
		return true
	}
	_, ok := storageTypes[g.name]
	return g.module == "torch" && ok
}

// storage is one typed storage: its key in the container, element type and count,
// and its bytes once read.
type storage struct {
	key    string
	dtype  dtype
	numel  int64
	data   []byte // numel·dtype.size bytes, nil until read
	order  binary.ByteOrder
	loaded bool
}

// tensor is a view of a storage.
type tensor struct {
	storage        *storage
	offset         int64
	shape, strides []int64
	numel          int64
}

func (t *tensor) shapeInts() []int {
	s := make([]int, len(t.shape))
	for i, v := range t.shape {
		s[i] = int(v)
	}
	return s
}

// reduce runs REDUCE: only the allow-listed callables, with the arguments torch
// gives them.
func (u *unpickler) reduce() error {
	args, err1 := u.pop()
	fn, err2 := u.pop()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	g, ok := fn.(globalRef)
	if !ok {
		return fmt.Errorf("REDUCE calls %s, not a named function", describe(fn))
	}
	a, ok := args.(*tuple)
	if !ok {
		return fmt.Errorf("REDUCE of %s with %s for arguments, not a tuple", g, describe(args))
	}
	var v any
	switch g.module + "." + g.name {
	case fnOrderedDict:
		v, err1 = orderedDict(a.items)
	case fnRebuildTensor:
		v, err1 = rebuildTensor(a.items)
	case fnRebuildParam, fnRebuildParamSt:
		v, err1 = rebuildParameter(g, a.items)
	default:
		return fmt.Errorf("REDUCE calls %s, which only names a storage type", g)
	}
	if err1 != nil {
		return err1
	}
	u.push(v)
	return nil
}

// orderedDict builds OrderedDict() or OrderedDict([(k, v), ...]).
func orderedDict(args []any) (*dict, error) {
	d := newDict()
	if len(args) == 0 {
		return d, nil
	}
	var pairs []any
	switch a := args[0].(type) {
	case *list:
		pairs = a.items
	case *tuple:
		pairs = a.items
	}
	if len(args) != 1 || pairs == nil && args[0] != nil {
		return nil, fmt.Errorf("OrderedDict called with %d arguments (%s), want none or one list of pairs", len(args), describe(args[0]))
	}
	for _, p := range pairs {
		var kv []any
		switch p := p.(type) {
		case *tuple:
			kv = p.items
		case *list:
			kv = p.items
		}
		if len(kv) != 2 {
			return nil, fmt.Errorf("OrderedDict item %s is not a (key, value) pair", describe(p))
		}
		if err := d.set(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// rebuildTensor checks and records _rebuild_tensor_v2(storage, storage_offset, size,
// stride, requires_grad, backward_hooks[, metadata]).
func rebuildTensor(args []any) (*tensor, error) {
	if len(args) != 6 && len(args) != 7 {
		return nil, fmt.Errorf("_rebuild_tensor_v2 called with %d arguments, want 6 or 7", len(args))
	}
	st, ok := args[0].(*storage)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2 of %s, not a storage", describe(args[0]))
	}
	offset, ok := args[1].(int64)
	if !ok || offset < 0 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: storage offset %v is not a non-negative int", args[1])
	}
	shape, err1 := intTuple(args[2], "size")
	strides, err2 := intTuple(args[3], "stride")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if len(shape) != len(strides) {
		return nil, fmt.Errorf("_rebuild_tensor_v2: size %v and stride %v differ in length", shape, strides)
	}
	if _, ok := args[4].(bool); !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: requires_grad is %s, not a bool", describe(args[4]))
	}
	if h, ok := args[5].(*dict); !ok || len(h.keys) != 0 {
		return nil, errors.New("_rebuild_tensor_v2: backward hooks are not an empty OrderedDict")
	}
	t := &tensor{storage: st, offset: offset, shape: shape, strides: strides}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

// rebuildParameter returns the tensor of _rebuild_parameter(data, requires_grad,
// backward_hooks[, state]).
func rebuildParameter(g globalRef, args []any) (*tensor, error) {
	want := 3
	if g.name == "_rebuild_parameter_with_state" {
		want = 4
	}
	if len(args) != want {
		return nil, fmt.Errorf("%s called with %d arguments, want %d", g, len(args), want)
	}
	t, ok := args[0].(*tensor)
	if !ok {
		return nil, fmt.Errorf("%s of %s, not a tensor", g, describe(args[0]))
	}
	return t, nil
}

// intTuple converts a tuple of at most 16 non-negative ints.
func intTuple(v any, what string) ([]int64, error) {
	t, ok := v.(*tuple)
	if !ok {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %s is %s, not a tuple", what, describe(v))
	}
	if len(t.items) > 16 {
		return nil, fmt.Errorf("_rebuild_tensor_v2: %s has %d dimensions (at most 16)", what, len(t.items))
	}
	out := make([]int64, len(t.items))
	for i, x := range t.items {
		n, ok := x.(int64)
		if !ok || n < 0 || n > 1<<40 {
			return nil, fmt.Errorf("_rebuild_tensor_v2: %s entry %v is not an int in [0, 2^40]", what, x)
		}
		out[i] = n
	}
	return out, nil
}

// check computes the tensor's element count and checks that every element it
// addresses lies inside its storage.
func (t *tensor) check() error {
	if t.offset > t.storage.numel {
		return fmt.Errorf("storage %q holds %d values, less than its tensor's offset %d", printable(t.storage.key), t.storage.numel, t.offset)
	}
	t.numel = 1
	last := t.offset // the largest storage index the view touches
	for i, n := range t.shape {
		hi, ov := bits.Mul64(uint64(t.numel), uint64(n))
		if hi != 0 || ov > 1<<40 {
			return fmt.Errorf("tensor of size %v has more than 2^40 values", t.shape)
		}
		t.numel = int64(ov)
		if n > 0 {
			hi, span := bits.Mul64(uint64(n-1), uint64(t.strides[i]))
			if hi != 0 || span > 1<<50 {
				return fmt.Errorf("tensor stride %v overflows", t.strides)
			}
			last += int64(span)
		}
	}
	if t.numel > 0 && last >= t.storage.numel {
		return fmt.Errorf("storage %q holds %d values, shorter than its tensor of size %v (offset %d, stride %v reaches value %d)",
			printable(t.storage.key), t.storage.numel, t.shape, t.offset, t.strides, last)
	}
	return nil
}

// values returns the tensor's elements in row-major order as float32.
func (t *tensor) values() ([]float32, error) {
	st := t.storage
	if !st.loaded {
		return nil, fmt.Errorf("storage %q was never read", printable(st.key))
	}
	out := make([]float32, t.numel)
	if t.numel == 0 {
		return out, nil
	}
	size := int64(st.dtype.size)
	if t.contiguous() {
		decodeRun(st.dtype.name, st.order, st.data[t.offset*size:(t.offset+t.numel)*size], out)
		return out, nil
	}
	idx := make([]int64, len(t.shape))
	pos := t.offset
	for i := range out {
		out[i] = decodeValue(st.dtype.name, st.order, st.data[pos*int64(st.dtype.size):])
		for d := len(idx) - 1; d >= 0; d-- { // odometer over the shape
			idx[d]++
			pos += t.strides[d]
			if idx[d] < t.shape[d] {
				break
			}
			pos -= idx[d] * t.strides[d]
			idx[d] = 0
		}
	}
	return out, nil
}

// contiguous reports whether the view is row-major without gaps.
func (t *tensor) contiguous() bool {
	want := int64(1)
	for d := len(t.shape) - 1; d >= 0; d-- {
		if t.shape[d] != 1 && t.strides[d] != want {
			return false
		}
		want *= t.shape[d]
	}
	return true
}

// decodeRun converts len(out) consecutive elements of b.
func decodeRun(dt string, order binary.ByteOrder, b []byte, out []float32) {
	switch {
	case dt == "F32" && order == binary.LittleEndian:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case dt == "F16" && order == binary.LittleEndian:
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(b[2*i:]))
		}
	default:
		size := len(b) / max(1, len(out))
		for i := range out {
			out[i] = decodeValue(dt, order, b[i*size:])
		}
	}
}

// decodeValue converts the element at the start of b.
func decodeValue(dt string, order binary.ByteOrder, b []byte) float32 {
	switch dt {
	case "F32":
		return math.Float32frombits(order.Uint32(b))
	case "F64":
		return float32(math.Float64frombits(order.Uint64(b)))
	case "F16":
		return halfToFloat(order.Uint16(b))
	case "BF16":
		return math.Float32frombits(uint32(order.Uint16(b)) << 16)
	case "I64":
		return float32(int64(order.Uint64(b)))
	case "I32":
		return float32(int32(order.Uint32(b)))
	case "I16":
		return float32(int16(order.Uint16(b)))
	case "I8":
		return float32(int8(b[0]))
	case "U8":
		return float32(b[0])
	case "BOOL":
		if b[0] != 0 {
			return 1
		}
		return 0
	}
	panic("torchfile: unknown dtype " + dt) // storageTypes lists every dtype
}

// halfToFloat converts IEEE binary16 to float32 exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf, nan
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant·2^-24, exact in float32
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// build runs BUILD: only an OrderedDict's instance state (a state dict's
// _metadata), which is dropped.
func (u *unpickler) build() error {
	state, err := u.pop()
	if err != nil {
		return err
	}
	obj, err := u.top()
	if err != nil {
		return err
	}
	if _, ok := obj.(*dict); !ok {
		return fmt.Errorf("BUILD of %s (only a dict's attributes are accepted)", describe(obj))
	}
	switch s := state.(type) {
	case nil, *dict:
		return nil
	case *tuple:
		if len(s.items) == 2 {
			return nil
		}
	}
	return fmt.Errorf("BUILD with state %s", describe(state))
}

// persID runs BINPERSID: ('storage', storage type, key, location, numel[, view]).
func (u *unpickler) persID() error {
	pid, err := u.pop()
	if err != nil {
		return err
	}
	t, ok := pid.(*tuple)
	if !ok {
		return fmt.Errorf("persistent id is %s, not a tuple", describe(pid))
	}
	if u.persistentLoad == nil {
		return errors.New("persistent id outside the object pickle")
	}
	v, err := u.persistentLoad(t)
	if err != nil {
		return err
	}
	u.push(v)
	return nil
}

// storageID parses a storage's persistent id into its type, key and element count;
// the legacy format's view metadata must be None.
func storageID(pid *tuple) (dtype, string, int64, error) {
	it := pid.items
	if len(it) != 5 && len(it) != 6 {
		return dtype{}, "", 0, fmt.Errorf("persistent id has %d fields, want 5 or 6", len(it))
	}
	if s, ok := it[0].(string); !ok || s != "storage" {
		return dtype{}, "", 0, fmt.Errorf("persistent id of kind %v, want \"storage\"", it[0])
	}
	g, ok := it[1].(globalRef)
	if !ok {
		return dtype{}, "", 0, fmt.Errorf("persistent id names storage type %s", describe(it[1]))
	}
	dt := storageTypes[g.name] // allowedGlobal admitted only storages and functions
	if dt.size == 0 {
		return dtype{}, "", 0, fmt.Errorf("persistent id names %s, not a storage type", g)
	}
	key, ok1 := it[2].(string)
	_, ok2 := it[3].(string)
	numel, ok3 := it[4].(int64)
	if !ok1 || !ok2 || !ok3 || numel < 0 {
		return dtype{}, "", 0, errors.New("persistent id fields are not (key string, location string, numel int)")
	}
	if len(it) == 6 && it[5] != nil {
		return dtype{}, "", 0, errors.New("storage views (legacy view metadata) are not supported")
	}
	return dt, key, numel, nil
}
