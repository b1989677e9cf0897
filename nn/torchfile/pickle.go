package torchfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"
)

// The pickle opcodes a state dict needs (protocol 2 to 5).
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opEmptyList      = ']'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opSetItems       = 'u'
	opEmptyDict      = '}'
	opEmptyTuple     = ')'
	opBinFloat       = 'G'
	opProto          = 0x80
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	maxStack         = 1 << 22 // values on the stack at once
	maxDepth         = 64      // container nesting the flattener follows
	maxGlobalNameLen = 256
)

// refusedOps names opcodes that exist but that a state dict never needs, for the
// error message.
var refusedOps = map[byte]string{
	'i': "INST", 'o': "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 'P': "PERSID",
	0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS",
	0x91: "FROZENSET", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
	'I': "INT", 'L': "LONG", 'F': "FLOAT", 'S': "STRING", 'V': "UNICODE", 'U': "SHORT_BINSTRING",
	'T': "BINSTRING", 'p': "PUT", 'g': "GET", 'l': "LIST", 'd': "DICT", 0x8b: "LONG4",
	0x8e: "BINBYTES8",
}

// Values on the unpickler's stack besides nil, bool, int64, *big.Int, float64,
// string and []byte.
type (
	tuple      struct{ items []any }
	list       struct{ items []any }
	globalRef  struct{ module, name string }
	markObject struct{}
	// dict is a Python dict or OrderedDict: insertion-ordered, keyed by strings
	// or integers (kept as their Python repr).
	dict struct {
		keys  []string
		vals  map[string]any
		isInt map[string]bool
	}
)

func newDict() *dict { return &dict{vals: map[string]any{}} }

func (d *dict) set(k any, v any) error {
	var key string
	switch k := k.(type) {
	case string:
		key = k
	case int64:
		key = fmt.Sprint(k)
	default:
		return fmt.Errorf("dict key is %s; a state dict's keys are strings", describe(k))
	}
	if _, ok := d.vals[key]; !ok {
		d.keys = append(d.keys, key)
	}
	d.vals[key] = v
	return nil
}

// String names the value for messages.
func (g globalRef) String() string { return printable(g.module) + "." + printable(g.name) }

// unpickler runs one pickle. persistentLoad resolves BINPERSID ids; nil refuses them.
type unpickler struct {
	data           []byte
	pos            int
	stack          []any
	marks          []int
	memo           map[uint32]any
	persistentLoad func(pid *tuple) (any, error)
	proto          int
}

// run executes opcodes from u.pos to STOP and returns the pickled object, leaving
// u.pos after STOP.
func (u *unpickler) run() (any, error) {
	u.stack, u.marks, u.memo = u.stack[:0], u.marks[:0], map[uint32]any{}
	for {
		if u.pos >= len(u.data) {
			return nil, errors.New("pickle ends before its STOP opcode (truncated)")
		}
		at := u.pos
		op := u.data[u.pos]
		u.pos++
		if op == opStop {
			if len(u.stack) != 1 || len(u.marks) != 0 {
				return nil, fmt.Errorf("pickle stops with %d values on its stack, want 1", len(u.stack))
			}
			return u.stack[0], nil
		}
		if err := u.step(op); err != nil {
			return nil, fmt.Errorf("pickle byte %d: %w", at, err)
		}
		if len(u.stack) > maxStack {
			return nil, fmt.Errorf("pickle byte %d: stack exceeds %d values", at, maxStack)
		}
	}
}

// step executes one opcode.
func (u *unpickler) step(op byte) error {
	switch op {
	case opProto:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		if b[0] < 2 || b[0] > 5 {
			return fmt.Errorf("pickle protocol %d (want 2 to 5)", b[0])
		}
		u.proto = int(b[0])
	case opFrame:
		_, err := u.read(8) // frames only group opcodes; the data is all in memory
		return err
	case opMark:
		u.marks = append(u.marks, len(u.stack))
	case opPop:
		if len(u.marks) > 0 && u.marks[len(u.marks)-1] == len(u.stack) {
			u.marks = u.marks[:len(u.marks)-1] // POP of a mark, as CPython allows
			return nil
		}
		_, err := u.pop()
		return err
	case opPopMark:
		_, err := u.popMark()
		return err
	case opDup:
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)
	default:
		return u.stepValue(op)
	}
	return nil
}

// stepValue executes the opcodes that push or combine values.
func (u *unpickler) stepValue(op byte) error {
	switch op {
	case opNone:
		u.push(nil)
	case opNewTrue, opNewFalse:
		u.push(op == opNewTrue)
	case opBinInt, opBinInt1, opBinInt2, opLong1, opBinFloat:
		return u.number(op)
	case opBinUnicode, opShortBinUni, opBinUnicode8, opBinBytes, opShortBinBytes:
		return u.text(op)
	case opEmptyDict:
		u.push(newDict())
	case opEmptyList:
		u.push(&list{})
	case opEmptyTuple:
		u.push(&tuple{})
	case opTuple, opTuple1, opTuple2, opTuple3:
		return u.tuple(op)
	case opAppend, opAppends, opSetItem, opSetItems:
		return u.fill(op)
	case opBinPut, opLongBinPut, opMemoize, opBinGet, opLongBinGet:
		return u.memoOp(op)
	case opGlobal, opStackGlobal:
		return u.global(op)
	case opReduce:
		return u.reduce()
	case opBuild:
		return u.build()
	case opBinPersID:
		return u.persID()
	default:
		if name, ok := refusedOps[op]; ok {
			return fmt.Errorf("opcode %s (0x%02x), which a state dict never needs", name, op)
		}
		return fmt.Errorf("unknown opcode 0x%02x", op)
	}
	return nil
}

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("%d-byte argument runs past the end of the pickle (truncated)", n)
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) floor() int {
	if len(u.marks) == 0 {
		return 0
	}
	return u.marks[len(u.marks)-1]
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) <= u.floor() {
		return nil, errors.New("stack underflow")
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark pops everything above the last mark and the mark.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK to pop to")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) number(op byte) error {
	switch op {
	case opBinInt:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		u.push(int64(b[0]))
	case opBinInt2:
		b, err := u.read(2)
		if err != nil {
			return err
		}
		u.push(int64(binary.LittleEndian.Uint16(b)))
	case opLong1:
		n, err := u.read(1)
		if err != nil {
			return err
		}
		b, err := u.read(int(n[0]))
		if err != nil {
			return err
		}
		u.push(decodeLong(b))
	case opBinFloat:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	}
	return nil
}

// decodeLong decodes a little-endian two's-complement integer: an int64 when it
// fits, else a *big.Int (the legacy format's magic number is 10 bytes long).
func decodeLong(b []byte) any {
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if len(b) > 0 && len(b) < 8 && b[len(b)-1]&0x80 != 0 {
			v |= ^uint64(0) << (8 * len(b)) // sign-extend
		}
		return int64(v)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return v
}

func (u *unpickler) text(op byte) error {
	var n uint64
	switch op {
	case opShortBinUni, opShortBinBytes:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		n = uint64(b[0])
	case opBinUnicode, opBinBytes:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		n = uint64(binary.LittleEndian.Uint32(b))
	case opBinUnicode8:
		b, err := u.read(8)
		if err != nil {
			return err
		}
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return fmt.Errorf("%d-byte string runs past the end of the pickle (truncated)", n)
	}
	b, _ := u.read(int(n))
	if op == opBinBytes || op == opShortBinBytes {
		u.push(append([]byte(nil), b...))
		return nil
	}
	if !utf8.Valid(b) {
		return errors.New("string is not valid UTF-8")
	}
	u.push(string(b))
	return nil
}

func (u *unpickler) tuple(op byte) error {
	var items []any
	var err error
	if op == opTuple {
		items, err = u.popMark()
	} else {
		n := int(op-opTuple1) + 1
		if len(u.stack)-u.floor() < n {
			return errors.New("stack underflow")
		}
		items = append([]any(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
	}
	if err != nil {
		return err
	}
	u.push(&tuple{items: items})
	return nil
}

// fill runs APPEND, APPENDS, SETITEM and SETITEMS.
func (u *unpickler) fill(op byte) error {
	var items []any
	var err error
	switch op {
	case opAppend:
		var v any
		v, err = u.pop()
		items = []any{v}
	case opSetItem:
		var k, v any
		if v, err = u.pop(); err == nil {
			k, err = u.pop()
		}
		items = []any{k, v}
	default:
		items, err = u.popMark()
	}
	if err != nil {
		return err
	}
	target, err := u.top()
	if err != nil {
		return err
	}
	if op == opAppend || op == opAppends {
		l, ok := target.(*list)
		if !ok {
			return fmt.Errorf("APPEND to %s, not a list", describe(target))
		}
		l.items = append(l.items, items...)
		return nil
	}
	d, ok := target.(*dict)
	if !ok {
		return fmt.Errorf("SETITEM on %s, not a dict", describe(target))
	}
	if len(items)%2 != 0 {
		return errors.New("SETITEMS with an odd number of values")
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpickler) memoOp(op byte) error {
	var idx uint32
	switch op {
	case opBinPut, opBinGet:
		b, err := u.read(1)
		if err != nil {
			return err
		}
		idx = uint32(b[0])
	case opLongBinPut, opLongBinGet:
		b, err := u.read(4)
		if err != nil {
			return err
		}
		idx = binary.LittleEndian.Uint32(b)
	case opMemoize:
		idx = uint32(len(u.memo))
	}
	if op == opBinGet || op == opLongBinGet {
		v, ok := u.memo[idx]
		if !ok {
			return fmt.Errorf("memo entry %d read before it is written", idx)
		}
		u.push(v)
		return nil
	}
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[idx] = v
	return nil
}

// global runs GLOBAL and STACK_GLOBAL, refusing every name off the allow-list.
func (u *unpickler) global(op byte) error {
	var g globalRef
	if op == opGlobal {
		mod, err := u.line()
		if err != nil {
			return err
		}
		name, err := u.line()
		if err != nil {
			return err
		}
		g = globalRef{mod, name}
	} else {
		name, err1 := u.pop()
		mod, err2 := u.pop()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return errors.New("STACK_GLOBAL of values that are not strings")
		}
		g = globalRef{ms, ns}
	}
	if !allowedGlobal(g) {
		return &refusal{g}
	}
	u.push(g)
	return nil
}

// refusal is the error for a global off the allow-list; Read reports it without the
// byte offset, the name being what matters.
type refusal struct{ g globalRef }

// Error is the one-line message.
func (r *refusal) Error() string {
	return "pickle names " + r.g.String() + ", which a state dict never needs"
}

// line reads a newline-terminated argument of GLOBAL.
func (u *unpickler) line() (string, error) {
	rest := u.data[u.pos:]
	i := strings.IndexByte(string(rest[:min(len(rest), maxGlobalNameLen+1)]), '\n')
	if i < 0 {
		return "", fmt.Errorf("GLOBAL name longer than %d bytes or truncated", maxGlobalNameLen)
	}
	u.pos += i + 1
	return string(rest[:i]), nil
}

// printable returns s with control and non-ASCII characters escaped, cut to 80
// bytes, for error messages.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < 80; i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	if b.Len() >= 80 {
		b.WriteString("…")
	}
	return b.String()
}

// describe names a value's type for error messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "a bool"
	case int64, *big.Int:
		return "an int"
	case float64:
		return "a float"
	case string:
		return "a string"
	case []byte:
		return "bytes"
	case *tuple:
		return fmt.Sprintf("a %d-tuple", len(v.items))
	case *list:
		return "a list"
	case *dict:
		return "a dict"
	case globalRef:
		return v.String()
	case *storage:
		return "a storage"
	case *tensor:
		return "a tensor"
	}
	return fmt.Sprintf("%T", v)
}
