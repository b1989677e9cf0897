package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// A hand-written torch.save writer, so that the reader's tests do not depend on
// PyTorch: it emits the opcodes PyTorch's pickler emits for a state dict (protocol 2)
// and the two containers. testdata/*.pt, made by PyTorch itself, check that the two
// agree.

// pw builds a pickle.
type pw struct{ bytes.Buffer }

func (p *pw) op(b ...byte) *pw { p.Write(b); return p }

func (p *pw) str(s string) *pw {
	p.op(opBinUnicode)
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
	return p
}

func (p *pw) int(n int) *pw {
	if n != int(int32(n)) {
		p.op(opLong1, 8)
		binary.Write(p, binary.LittleEndian, int64(n))
		return p
	}
	p.op(opBinInt)
	binary.Write(p, binary.LittleEndian, int32(n))
	return p
}

func (p *pw) global(mod, name string) *pw {
	p.op(opGlobal)
	p.WriteString(mod + "\n" + name + "\n")
	return p
}

func (p *pw) ints(v []int) *pw {
	p.op(opMark)
	for _, x := range v {
		p.int(x)
	}
	return p.op(opTuple)
}

// fakeStorage is a storage to write: its type name (FloatStorage, ...) and bytes.
type fakeStorage struct {
	key, typ string
	numel    int // as the persistent id claims it
	data     []byte
}

// fakeTensor is a view to write.
type fakeTensor struct {
	name           string
	st             *fakeStorage
	offset         int
	shape, strides []int
	parameter      bool // wrap in torch._utils._rebuild_parameter
}

func (p *pw) tensor(t fakeTensor, legacy bool) *pw {
	if t.parameter {
		p.global("torch._utils", "_rebuild_parameter")
		p.op(opMark)
	}
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op(opMark)
	p.op(opMark).str("storage").global("torch", t.st.typ).str(t.st.key).str("cpu").int(t.st.numel)
	if legacy {
		p.op(opNone)
	}
	p.op(opTuple, opBinPersID)
	p.int(t.offset).ints(t.shape).ints(t.strides).op(opNewFalse)
	p.global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.op(opTuple, opReduce)
	if t.parameter {
		p.op(opNewTrue).global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
		p.op(opTuple, opReduce)
	}
	return p
}

// statePickle is the pickle of an OrderedDict of the tensors (with a _metadata
// attribute, as a module's state_dict has).
func statePickle(ts []fakeTensor, legacy bool) []byte {
	p := &pw{}
	p.op(opProto, 2).global("collections", "OrderedDict").op(opEmptyTuple, opReduce, opBinPut, 0)
	p.op(opMark)
	for _, t := range ts {
		p.str(t.name).tensor(t, legacy)
	}
	p.op(opSetItems)
	p.op(opEmptyDict).str("_metadata").global("collections", "OrderedDict").op(opEmptyTuple, opReduce)
	p.str("").op(opEmptyDict).str("version").int(1).op(opSetItem, opSetItem)
	p.op(opSetItem, opBuild, opStop)
	return p.Bytes()
}

// zipFile writes the zip container around a pickle and storages.
func zipFile(t testing.TB, pkl []byte, sts []*fakeStorage) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	put := func(name string, b []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	put("data.pkl", pkl)
	put("byteorder", []byte("little"))
	for _, s := range sts {
		put("data/"+s.key, s.data)
	}
	put("version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// legacyFile writes the legacy stream around a pickle and storages.
func legacyFile(pkl []byte, sts []*fakeStorage) []byte {
	var buf bytes.Buffer
	buf.Write([]byte{opProto, 2, opLong1, 10})
	m := legacyMagic.Bytes() // big-endian
	for i := len(m) - 1; i >= 0; i-- {
		buf.WriteByte(m[i])
	}
	buf.WriteByte(opStop)
	buf.Write([]byte{opProto, 2, opBinInt2, 0xe9, 0x03, opStop})
	info := &pw{}
	info.op(opProto, 2, opEmptyDict).str("protocol_version").op(opBinInt2, 0xe9, 0x03, opSetItem)
	info.str("little_endian").op(opNewTrue, opSetItem, opStop)
	buf.Write(info.Bytes())
	buf.Write(pkl)
	keys := &pw{}
	keys.op(opProto, 2, opEmptyList, opMark)
	for _, s := range sts {
		keys.str(s.key)
	}
	keys.op(opAppends, opStop)
	buf.Write(keys.Bytes())
	for _, s := range sts {
		binary.Write(&buf, binary.LittleEndian, int64(s.numel))
		buf.Write(s.data)
	}
	return buf.Bytes()
}

func f32Storage(key string, v ...float32) *fakeStorage {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return &fakeStorage{key: key, typ: "FloatStorage", numel: len(v), data: b}
}
