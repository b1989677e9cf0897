// Package torchfile reads PyTorch checkpoints (torch.save files) the way
// torch.load(weights_only=True) does, and no further: it accepts a state dict of
// tensors and nothing that could run code.
//
// Two containers are read: the zip archive torch.save writes by default
// (PREFIX/data.pkl, one PREFIX/data/KEY file per storage, PREFIX/byteorder) and the
// legacy stream of _use_new_zipfile_serialization=False (magic, protocol and
// system-info pickles, the object pickle, the list of storage keys, then each
// storage as an 8-byte element count and its bytes).
//
// The object pickle (protocol 2 to 5) runs on a small interpreter with an
// allow-list: the opcodes that build dicts, lists, tuples, numbers and strings;
// collections.OrderedDict; torch._utils._rebuild_tensor_v2, _rebuild_parameter and
// _rebuild_parameter_with_state; and the typed storages (torch.FloatStorage,
// HalfStorage, ...) named by persistent ids. Any other global is refused by name
// before anything is called ("pickle names os.system, which a state dict never
// needs"); so are the opcodes that build arbitrary objects.
//
// Every size is checked before allocation: a storage's byte count against the
// file's length and against the bytes its archive entry or stream really holds, a
// tensor's extent (offset and strides) against its storage, and the total number of
// values against the file's length. Every failure is a one-line *Error.
//
// In memory every tensor is float32 in row-major order; F16, BF16, F64 and integer
// storages are converted.
//
// Names: the pickled object must be a dict (or a list or tuple, as some training
// checkpoints are). Nested dicts are flattened by joining keys with "."
// ({"model": {"conv.weight": T}} gives "model.conv.weight"), lists and tuples by
// their index ([sd, opt, epoch] gives "0.conv.weight", ...). Leaves that are not tensors (an
// epoch number, a config string) are not returned but listed in File.Skipped.
package torchfile

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// MaxPickleSize is the largest object pickle Read accepts (64 MiB; a state dict's
// pickle is a few hundred kilobytes).
const MaxPickleSize = 64 << 20

// Tensor is one named array of a checkpoint, converted to float32. Data is in
// row-major order and len(Data) is the product of Shape (1 for a scalar).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
	// DType is the storage's element type as safetensors names it: F32, F16,
	// BF16, F64, I64, I32, I16, I8, U8 or BOOL.
	DType string
}

// Numel returns the number of values of t.
func (t *Tensor) Numel() int { return len(t.Data) }

// File is a parsed checkpoint.
type File struct {
	// Tensors is in the pickle's order (a state dict's order).
	Tensors []Tensor
	// Skipped names the leaves of the dict that are not tensors (numbers,
	// strings, None), flattened as tensor names are.
	Skipped []string
	// Format is "zip" or "legacy".
	Format string
}

// Get returns the tensor called name, if present.
func (f *File) Get(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// Error reports a checkpoint that is not a PyTorch state dict this package reads:
// malformed, truncated, or naming something a state dict never needs. Callers map
// it to a usage error (exit 2).
type Error struct {
	File   string // the name given to Read (usually the path)
	Reason string // one line
}

// Error returns "checkpoint FILE: REASON" on one line.
func (e *Error) Error() string {
	msg := "checkpoint " + e.File + ": " + e.Reason
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(msg)
}

// Sniff reports what data starts like: "zip" for a zip archive (torch.save's
// default), "legacy" for a pickle stream (protocol 2 or later), "" otherwise.
func Sniff(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")), bytes.HasPrefix(data, []byte("PK\x05\x06")):
		return "zip"
	case len(data) >= 2 && data[0] == opProto && data[1] >= 2 && data[1] <= 5:
		return "legacy"
	}
	return ""
}

// ReadFile reads and parses the checkpoint at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return Read(path, data)
}

// Read parses data, the whole contents of a torch.save file; name is used in
// errors. Any problem with the bytes is an *Error.
func Read(name string, data []byte) (*File, error) {
	var (
		f   *File
		err error
	)
	switch Sniff(data) {
	case "zip":
		f, err = readZip(data)
	case "legacy":
		f, err = readLegacy(data)
	default:
		err = fmt.Errorf("is not a torch.save file (neither a zip archive nor a pickle stream; %d bytes)", len(data))
	}
	if err != nil {
		return nil, &Error{File: name, Reason: err.Error()}
	}
	return f, nil
}

// build turns the unpickled object into the file's tensors, once every storage it
// references has its bytes.
func build(obj any, format string, fileSize int) (*File, error) {
	f := &File{Format: format}
	fl := &flattener{seen: map[string]bool{}, budget: maxValues(fileSize)}
	switch obj.(type) {
	case *dict, *list, *tuple:
	default:
		return nil, fmt.Errorf("pickle holds %s, not a dict of tensors", describe(obj))
	}
	if err := fl.visit("", obj, 0); err != nil {
		return nil, err
	}
	for _, e := range fl.out {
		data, err := e.t.values()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", e.name, err)
		}
		f.Tensors = append(f.Tensors, Tensor{Name: e.name, Shape: e.t.shapeInts(), Data: data, DType: e.t.storage.dtype.name})
	}
	f.Skipped = fl.skipped
	return f, nil
}

// maxValues bounds the total number of tensor values a file of fileSize bytes may
// produce: every value of a tensor that does not overlap another takes at least
// one byte of the file, so four times the file's length (plus a little for views
// that broadcast a scalar) is generous and still bounds the allocation.
func maxValues(fileSize int) int64 { return 4*int64(fileSize) + 1<<16 }
