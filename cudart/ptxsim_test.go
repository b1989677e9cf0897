package cudart

// A small PTX interpreter for the instructions our generated modules use, so the
// kernels' logic (parameter order, register use, index arithmetic, op bodies) is
// checked against runtime.CPU on a machine without a GPU. It runs one thread
// (grid 1×1, block 1), so the grid-stride loops visit every element in turn. The
// .approx instructions are evaluated exactly: their error is checked on the GPU.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"ocm/runtime"
	"ocm/runtime/philox"
)

type ptxEntry struct {
	params []string
	regs   map[string]int // prefix ("%r") -> count declared
	stmts  []string
	labels map[string]int
	code   []simIns // compiled stmts (on first run)
	nregs  int
}

func parseEntries(src string) map[string]*ptxEntry {
	out := map[string]*ptxEntry{}
	re := regexp.MustCompile(`(?s)\.visible \.entry (\w+)\((.*?)\)\s*(?:\.maxntid [^{]*)?\{(.*?)\n\}`)
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		e := &ptxEntry{regs: map[string]int{}, labels: map[string]int{}}
		for _, p := range strings.Split(m[2], ",") {
			f := strings.Fields(p)
			e.params = append(e.params, f[len(f)-1])
		}
		for _, line := range strings.Split(m[3], "\n") {
			line = strings.TrimSpace(line)
			if i := strings.Index(line, "//"); i >= 0 {
				line = strings.TrimSpace(line[:i])
			}
			if line == "" {
				continue
			}
			if strings.HasSuffix(line, ":") {
				e.labels[strings.TrimSuffix(line, ":")] = len(e.stmts)
				continue
			}
			line = strings.TrimSuffix(line, ";")
			if strings.HasPrefix(line, ".reg") { // .reg .b32 %r<48>
				f := strings.Fields(line)
				d := f[2]
				i := strings.IndexByte(d, '<')
				n, _ := strconv.Atoi(strings.TrimSuffix(d[i+1:], ">"))
				e.regs[d[:i]] = n
				continue
			}
			e.stmts = append(e.stmts, line)
		}
		out[m[1]] = e
	}
	return out
}

// simMem is global memory: float32 buffers at fake base addresses.
type simMem struct{ bufs map[uint64][]float32 }

const simBase = 1 << 40

func (m *simMem) add(v []float32) uint64 {
	a := uint64(simBase) * uint64(len(m.bufs)+1)
	m.bufs[a] = v
	return a
}

func (m *simMem) at(addr uint64) *float32 {
	base := addr / simBase * simBase
	b, ok := m.bufs[base]
	off := addr - base
	if !ok || off%4 != 0 || off/4 >= uint64(len(b)) {
		panic(fmt.Sprintf("out of bounds access at %#x", addr))
	}
	return &b[off/4]
}

// simThread is the state of the one simulated thread of a launch.
type simThread struct {
	e    *ptxEntry
	args []uint64
	mem  *simMem
	regs []uint64
	in   *simIns
	pc   int
}

func (s *simThread) val(i int) uint64 {
	switch x := s.in.args[i]; x.kind {
	case argReg:
		return s.regs[x.idx]
	case argParam:
		return s.args[x.idx]
	default:
		return x.imm
	}
}

func (s *simThread) f(i int) float32  { return math.Float32frombits(uint32(s.val(i))) }
func (s *simThread) d(i int) float64  { return math.Float64frombits(s.val(i)) }
func (s *simThread) u32(i int) uint32 { return uint32(s.val(i)) }
func (s *simThread) set(v uint64)     { s.regs[s.in.args[0].idx] = v }
func fb(v float32) uint64             { return uint64(math.Float32bits(v)) }
func db(v float64) uint64             { return math.Float64bits(v) }
func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func runEntry(t *testing.T, e *ptxEntry, args []uint64, mem *simMem) {
	t.Helper()
	if len(args) != len(e.params) {
		t.Fatalf("%d args for %d params", len(args), len(e.params))
	}
	if e.code == nil {
		e.compile(t)
	}
	s := &simThread{e: e, args: args, mem: mem, regs: make([]uint64, e.nregs)}
	for steps := 0; s.pc < len(e.code); steps++ {
		if steps > 1e8 {
			t.Fatal("runaway kernel")
		}
		s.in = &e.code[s.pc]
		s.pc++
		if s.in.pred >= 0 && s.regs[s.in.pred] == 0 {
			continue
		}
		if s.in.opc == "ret" {
			return
		}
		if !s.execInt(s.in.opc) && !s.execMem(s.in.opc) && !s.execCvt(s.in.opc) && !s.execF32(s.in.opc) && !s.execF64(s.in.opc) {
			t.Fatalf("simulator: unknown instruction %q", s.in.src)
		}
	}
	t.Fatal("fell off the end of the kernel")
}

// execInt runs control flow, integer and predicate instructions.
func (s *simThread) execInt(opc string) bool {
	switch opc {
	case "bra":
		s.pc = int(s.in.args[0].imm)
	case "cvta.to.global.u64", "mov.u32", "mov.f32", "mov.b32":
		s.set(s.val(1))
	case "min.u32":
		s.set(uint64(min(s.u32(1), s.u32(2))))
	case "mad.lo.u32":
		s.set(uint64(s.u32(1)*s.u32(2) + s.u32(3)))
	case "mul.lo.u32":
		s.set(uint64(s.u32(1) * s.u32(2)))
	case "mul.hi.u32":
		s.set(uint64((uint64(s.u32(1)) * uint64(s.u32(2))) >> 32))
	case "mul.wide.u32":
		s.set(uint64(s.u32(1)) * uint64(s.u32(2)))
	case "add.u32":
		s.set(uint64(s.u32(1) + s.u32(2)))
	case "sub.u32":
		s.set(uint64(s.u32(1) - s.u32(2)))
	case "or.pred":
		s.set(s.val(1) | s.val(2))
	case "setp.lt.s32":
		s.set(b2u(int32(s.u32(1)) < int32(s.u32(2))))
	case "setp.ne.u32":
		s.set(b2u(s.u32(1) != s.u32(2)))
	case "add.s64":
		s.set(s.val(1) + s.val(2))
	case "rem.u32":
		s.set(uint64(s.u32(1) % s.u32(2)))
	case "div.u32":
		s.set(uint64(s.u32(1) / s.u32(2)))
	case "xor.b32":
		s.set(uint64(s.u32(1) ^ s.u32(2)))
	case "and.b32":
		s.set(uint64(s.u32(1) & s.u32(2)))
	case "shr.u32":
		s.set(uint64(s.u32(1) >> s.u32(2)))
	case "shr.u64":
		s.set(s.val(1) >> s.val(2))
	case "shl.b64":
		s.set(s.val(1) << s.val(2))
	case "or.b64":
		s.set(s.val(1) | s.val(2))
	case "setp.ge.u32":
		s.set(b2u(s.u32(1) >= s.u32(2)))
	case "setp.eq.u32":
		s.set(b2u(s.u32(1) == s.u32(2)))
	case "and.pred":
		s.set(s.val(1) & s.val(2))
	case "mov.b64":
		s.set(s.val(1))
	case "and.b64":
		s.set(s.val(1) & s.val(2))
	case "setp.gt.u32":
		s.set(b2u(s.u32(1) > s.u32(2)))
	case "setp.ge.s32":
		s.set(b2u(int32(s.u32(1)) >= int32(s.u32(2))))
	case "xor.pred":
		s.set(s.val(1) ^ s.val(2))
	case "setp.eq.u64":
		s.set(b2u(s.val(1) == s.val(2)))
	case "shl.b32":
		s.set(uint64(s.u32(1) << s.u32(2)))
	default:
		return false
	}
	return true
}

// execMem runs loads and stores (parameters and global memory).
func (s *simThread) execMem(opc string) bool {
	switch opc {
	case "ld.param.u64", "ld.param.u32", "ld.param.f32":
		v := s.val(1)
		if s.in.opc != "ld.param.u64" {
			v &= math.MaxUint32
		}
		s.set(v)
	case "ld.global.f32":
		s.set(fb(*s.mem.at(s.val(1))))
	case "ld.global.f64": // two float32 slots of simMem, low word first
		a := s.val(1)
		s.set(uint64(math.Float32bits(*s.mem.at(a))) | uint64(math.Float32bits(*s.mem.at(a + 4)))<<32)
	case "st.global.f64":
		a, v := s.val(0), s.val(1)
		*s.mem.at(a), *s.mem.at(a + 4) = math.Float32frombits(uint32(v)), math.Float32frombits(uint32(v>>32))
	case "st.global.f32":
		*s.mem.at(s.val(0)) = s.f(1)
	default:
		return false
	}
	return true
}

// execCvt runs conversions between integer and float registers.
func (s *simThread) execCvt(opc string) bool {
	switch opc {
	case "cvt.u64.u32":
		s.set(uint64(s.u32(1)))
	case "cvt.u32.u64":
		s.set(uint64(s.u32(1)))
	default:
		return false
	}
	return true
}

// execF32 runs float32 arithmetic.
func (s *simThread) execF32(opc string) bool {
	switch opc {
	case "cvt.rn.f32.u32":
		s.set(fb(float32(s.u32(1))))
	case "cvt.rni.f32.f32":
		s.set(fb(float32(math.RoundToEven(float64(s.f(1))))))
	case "setp.gt.f32":
		s.set(b2u(s.f(1) > s.f(2)))
	case "setp.lt.f32":
		s.set(b2u(s.f(1) < s.f(2)))
	case "setp.ge.f32":
		s.set(b2u(s.f(1) >= s.f(2)))
	case "selp.f32", "selp.b32":
		if s.val(3) != 0 {
			s.set(s.val(1))
		} else {
			s.set(s.val(2))
		}
	case "neg.f32":
		s.set(fb(-s.f(1)))
	case "abs.f32":
		s.set(fb(float32(math.Abs(float64(s.f(1))))))
	case "add.f32", "add.rn.f32":
		s.set(fb(s.f(1) + s.f(2)))
	case "sub.f32", "sub.rn.f32":
		s.set(fb(s.f(1) - s.f(2)))
	case "mul.f32", "mul.rn.f32":
		s.set(fb(s.f(1) * s.f(2)))
	case "div.rn.f32":
		s.set(fb(s.f(1) / s.f(2)))
	case "fma.rn.f32":
		s.set(fb(float32(math.FMA(float64(s.f(1)), float64(s.f(2)), float64(s.f(3))))))
	case "max.f32":
		s.set(fb(ptxMinMax(s.f(1), s.f(2), true)))
	case "min.f32":
		s.set(fb(ptxMinMax(s.f(1), s.f(2), false)))
	case "setp.nan.f32":
		s.set(b2u(s.f(1) != s.f(1) || s.f(2) != s.f(2)))
	case "cvt.rzi.s32.f32":
		s.set(uint64(uint32(int32(s.f(1)))))
	case "cvt.rn.f32.s32":
		s.set(fb(float32(int32(s.u32(1)))))
	case "sqrt.rn.f32":
		s.set(fb(float32(math.Sqrt(float64(s.f(1))))))
	case "rcp.rn.f32":
		s.set(fb(1 / s.f(1)))
	case "ex2.approx.f32":
		s.set(fb(float32(math.Exp2(float64(s.f(1))))))
	case "lg2.approx.f32":
		s.set(fb(float32(math.Log2(float64(s.f(1))))))
	case "sin.approx.f32":
		s.set(fb(float32(math.Sin(float64(s.f(1))))))
	case "cos.approx.f32":
		s.set(fb(float32(math.Cos(float64(s.f(1))))))
	case "copysign.f32": // sign of a into b
		s.set(fb(float32(math.Copysign(float64(s.f(2)), float64(s.f(1))))))
	default:
		return false
	}
	return true
}

// execF64 runs float64 arithmetic.
func (s *simThread) execF64(opc string) bool {
	switch opc {
	case "cvt.rn.f64.s32":
		s.set(db(float64(int32(s.u32(1)))))
	case "cvt.rzi.u32.f64":
		s.set(uint64(uint32(s.d(1))))
	case "setp.lt.f64":
		s.set(b2u(s.d(1) < s.d(2)))
	case "neg.f64":
		s.set(db(-s.d(1)))
	case "cvt.f64.f32":
		s.set(db(float64(s.f(1))))
	case "cvt.rn.f32.f64":
		s.set(fb(float32(s.d(1))))
	case "cvt.rn.f64.u32":
		s.set(db(float64(s.u32(1))))
	case "mov.f64":
		s.set(s.val(1))
	case "add.rn.f64":
		s.set(db(s.d(1) + s.d(2)))
	case "sub.rn.f64":
		s.set(db(s.d(1) - s.d(2)))
	case "mul.rn.f64":
		s.set(db(s.d(1) * s.d(2)))
	case "div.rn.f64":
		s.set(db(s.d(1) / s.d(2)))
	case "sqrt.rn.f64":
		s.set(db(math.Sqrt(s.d(1))))
	case "rcp.rn.f64":
		s.set(db(1 / s.d(1)))
	case "max.f64":
		a, b := s.d(1), s.d(2)
		switch {
		case a != a:
			s.set(db(b))
		case b != b:
			s.set(db(a))
		default:
			s.set(db(max(a, b)))
		}
	case "setp.nan.f64":
		s.set(b2u(s.d(1) != s.d(1) || s.d(2) != s.d(2)))
	case "selp.f64":
		if s.val(3) != 0 {
			s.set(s.val(1))
		} else {
			s.set(s.val(2))
		}
	default:
		return false
	}
	return true
}

// Operand kinds of a compiled instruction.
const (
	argImm   = iota // a literal, or a special register (%tid.x, ...) of the one thread
	argReg          // a register, by index
	argParam        // a kernel parameter, by index
)

type simArg struct {
	kind int
	idx  int
	imm  uint64
}

// simIns is one statement, parsed once: guard predicate (-1: none), opcode, operands.
type simIns struct {
	pred int
	opc  string
	args []simArg
	src  string
}

// compile parses e's statements into e.code, checking that every register is declared.
func (e *ptxEntry) compile(t *testing.T) {
	t.Helper()
	regIdx := map[string]int{}
	paramIdx := map[string]int{}
	for i, p := range e.params {
		paramIdx[p] = i
	}
	reg := func(r string) int {
		i := len(r)
		for i > 0 && r[i-1] >= '0' && r[i-1] <= '9' {
			i--
		}
		n, err := strconv.Atoi(r[i:])
		if err != nil || n >= e.regs[r[:i]] {
			t.Fatalf("register %s not declared (.reg %s<%d>)", r, r[:i], e.regs[r[:i]])
		}
		if _, ok := regIdx[r]; !ok {
			regIdx[r] = len(regIdx)
		}
		return regIdx[r]
	}
	operand := func(op string, isLabel bool) simArg {
		op = strings.Trim(op, "[]")
		switch {
		case isLabel:
			pc, ok := e.labels[op]
			if !ok {
				t.Fatalf("unknown label %s", op)
			}
			return simArg{imm: uint64(pc)}
		case op == "%ctaid.x" || op == "%tid.x":
			return simArg{imm: 0}
		case op == "%ntid.x" || op == "%nctaid.x":
			return simArg{imm: 1}
		case strings.HasPrefix(op, "%"):
			return simArg{kind: argReg, idx: reg(op)}
		case strings.HasPrefix(op, "p_"):
			i, ok := paramIdx[op]
			if !ok {
				t.Fatalf("unknown param %s", op)
			}
			return simArg{kind: argParam, idx: i}
		case strings.HasPrefix(op, "0f"), strings.HasPrefix(op, "0d"), strings.HasPrefix(op, "0x"):
			v, err := strconv.ParseUint(op[2:], 16, 64)
			if err != nil || (op[1] == 'f' && v > math.MaxUint32) {
				t.Fatalf("bad literal %s", op)
			}
			return simArg{imm: v}
		}
		v, err := strconv.ParseInt(op, 10, 64)
		if err != nil {
			t.Fatalf("bad operand %q", op)
		}
		return simArg{imm: uint64(v)}
	}
	e.code = make([]simIns, len(e.stmts))
	for i, s := range e.stmts {
		in := simIns{pred: -1, src: s}
		if strings.HasPrefix(s, "@") { // @%p1 bra L
			sp := strings.IndexByte(s, ' ')
			in.pred = reg(s[1:sp])
			s = strings.TrimSpace(s[sp:])
		}
		sp := strings.IndexAny(s, " \t")
		rest := ""
		in.opc = s
		if sp >= 0 {
			in.opc, rest = s[:sp], strings.TrimSpace(s[sp:])
		}
		for _, o := range strings.Split(rest, ",") {
			if o = strings.TrimSpace(o); o != "" {
				in.args = append(in.args, operand(o, in.opc == "bra"))
			}
		}
		e.code[i] = in
	}
	e.nregs = len(regIdx)
}

// ptxMinMax is PTX max.f32 (isMax) or min.f32: a NaN operand is dropped in favour
// of the other one; only two NaNs give NaN. (Go's max and min keep a NaN.)
func ptxMinMax(a, b float32, isMax bool) float32 {
	switch {
	case a != a:
		return b
	case b != b:
		return a
	case isMax:
		return max(a, b)
	}
	return min(a, b)
}

func simModules() map[string]*ptxEntry {
	all := map[string]*ptxEntry{}
	for _, m := range ptxModules {
		for k, v := range parseEntries(m.src) {
			all[k] = v
		}
	}
	return all
}

func simCompare(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	bad := 0
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if g == w || (math.IsNaN(g) && math.IsNaN(w)) {
			continue
		}
		if d := math.Abs(g - w); math.IsNaN(d) || d > atol+rtol*math.Abs(w) {
			if bad < 5 {
				t.Errorf("%s: [%d] ptx %v, cpu %v", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d differ", what, bad, len(got))
	}
}

func TestPTXSimUnary(t *testing.T) {
	entries := simModules()
	r := rand.New(rand.NewPCG(11, 12))
	cpu := runtime.NewCPU(runtime.CPUOptions{Threads: 1})
	for op := runtime.UnaryOp(0); op.String() != "unary?"; op++ {
		e := entries["unary_"+op.String()]
		if e == nil {
			t.Fatalf("no entry for %s", op)
		}
		x := randn(r, 517, 3)
		if op == runtime.OpLog || op == runtime.OpSqrt || op == runtime.OpRsqrt {
			for i := range x {
				x[i] = float32(math.Abs(float64(x[i]))) + 1e-3
			}
		}
		x[0], x[1], x[2] = 0, 1, -1
		mem := &simMem{bufs: map[uint64][]float32{}}
		out := make([]float32, len(x))
		po, px := mem.add(out), mem.add(append([]float32(nil), x...))
		runEntry(t, e, unaryArgs(uintptr(po), uintptr(px), len(x), -0.7, 1.3), mem)
		cb, co := cpu.Alloc(len(x), false), cpu.Alloc(len(x), false)
		cpu.Upload(cb, x)
		cpu.Unary(op, co, cb, -0.7, 1.3)
		want := make([]float32, len(x))
		cpu.Download(want, co)
		simCompare(t, "unary "+op.String(), out, want, 1e-6, 1e-5)
	}
}

// NaN must survive max, min and clamp as on the CPU (a diverging model must show).
func TestPTXSimNaN(t *testing.T) {
	entries := simModules()
	cpu := runtime.NewCPU(runtime.CPUOptions{Threads: 1})
	nan := float32(math.NaN())
	x := []float32{nan, 1, nan, -2, 0.5}
	y := []float32{2, nan, nan, -3, 0.25}
	run := func(what string, entry string, args func(po, px, py uintptr) []uint64, want func(co, cx, cy runtime.Buffer)) {
		mem := &simMem{bufs: map[uint64][]float32{}}
		out := make([]float32, len(x))
		po, px, py := mem.add(out), mem.add(append([]float32(nil), x...)), mem.add(append([]float32(nil), y...))
		runEntry(t, entries[entry], args(uintptr(po), uintptr(px), uintptr(py)), mem)
		cx, cy, co := cpu.Alloc(len(x), false), cpu.Alloc(len(y), false), cpu.Alloc(len(x), false)
		cpu.Upload(cx, x)
		cpu.Upload(cy, y)
		want(co, cx, cy)
		w := make([]float32, len(x))
		cpu.Download(w, co)
		for i := range w {
			if math.IsNaN(float64(w[i])) != math.IsNaN(float64(out[i])) {
				t.Errorf("%s: [%d] of %v, %v: ptx %v, cpu %v", what, i, x, y, out[i], w[i])
			}
		}
		simCompare(t, what, out, w, 0, 0)
	}
	l := layout([]int{len(x)}, []int{len(y)})
	meta, _ := broadcastArgs(l, l.YStrides)
	for _, op := range []runtime.BinaryOp{runtime.OpMax, runtime.OpMin} {
		run("binary "+op.String(), "binary_"+op.String(), func(po, px, py uintptr) []uint64 {
			return binaryArgs(po, px, py, len(x), meta)
		}, func(co, cx, cy runtime.Buffer) { cpu.Binary(op, co, cx, cy, l) })
	}
	run("unary clamp", "unary_clamp", func(po, px, _ uintptr) []uint64 {
		return unaryArgs(po, px, len(x), -1, 1)
	}, func(co, cx, _ runtime.Buffer) { cpu.Unary(runtime.OpClamp, co, cx, -1, 1) })
}

func TestPTXSimBinary(t *testing.T) {
	entries := simModules()
	r := rand.New(rand.NewPCG(13, 14))
	cpu := runtime.NewCPU(runtime.CPUOptions{Threads: 1})
	for op := runtime.BinaryOp(0); op.String() != "binary?"; op++ {
		for _, s := range [][2][]int{{{60}, {60}}, {{4, 5, 6}, {5, 1}}, {{8, 1, 6}, {7, 1}}, {{2, 3, 4, 5, 2, 3}, {3, 1, 5, 1, 3}}, {{1}, {3, 4}}} {
			l := layout(s[0], s[1])
			meta, ok := broadcastArgs(l, l.YStrides)
			if !ok {
				t.Fatalf("%v does not fit", s)
			}
			x, y := randn(r, numel(s[0]), 2), randn(r, numel(s[1]), 2)
			n := numel(l.Shape)
			mem := &simMem{bufs: map[uint64][]float32{}}
			out := make([]float32, n)
			po, px, py := mem.add(out), mem.add(x), mem.add(y)
			runEntry(t, entries["binary_"+op.String()], binaryArgs(uintptr(po), uintptr(px), uintptr(py), n, meta), mem)
			cx, cy, co := cpu.Alloc(len(x), false), cpu.Alloc(len(y), false), cpu.Alloc(n, false)
			cpu.Upload(cx, x)
			cpu.Upload(cy, y)
			cpu.Binary(op, co, cx, cy, l)
			want := make([]float32, n)
			cpu.Download(want, co)
			simCompare(t, fmt.Sprintf("binary %s %v", op, s), out, want, 1e-6, 1e-5)
		}
	}
	// Expand.
	l := &runtime.Broadcast{Shape: []int{2, 3, 4, 5}, XStrides: []int{4, 0, 1, 0}}
	meta, _ := broadcastArgs(l, make([]int, 4))
	x := randn(r, 8, 1)
	mem := &simMem{bufs: map[uint64][]float32{}}
	out := make([]float32, 120)
	po, px := mem.add(out), mem.add(x)
	runEntry(t, entries["binary_copy"], binaryArgs(uintptr(po), uintptr(px), uintptr(px), 120, meta), mem)
	cx, co := cpu.Alloc(8, false), cpu.Alloc(120, false)
	cpu.Upload(cx, x)
	cpu.Expand(co, cx, l)
	want := make([]float32, 120)
	cpu.Download(want, co)
	simCompare(t, "expand", out, want, 0, 0)
}

func TestPTXSimPhilox(t *testing.T) {
	entries := simModules()
	for _, c := range []struct {
		key    philox.Key
		offset uint64
		n      int
	}{{philox.Key{Seed: 42, Stream: 7}, 5, 103}, {philox.Key{Seed: 1<<63 + 12345, Stream: 1<<40 + 3}, 1<<34 - 6, 37},
		{philox.Key{}, math.MaxUint64 - 2, 9}, {philox.Key{Seed: 9, Stream: 1}, 3, 4001}} {
		for _, dist := range []runtime.Distribution{runtime.Uniform, runtime.Rademacher, runtime.Normal} {
			mem := &simMem{bufs: map[uint64][]float32{}}
			out := make([]float32, c.n)
			po := mem.add(out)
			runEntry(t, entries["random_"+dist.String()], randomArgs(uintptr(po), c.n, c.key, c.offset), mem)
			want := make([]float32, c.n)
			switch dist {
			case runtime.Uniform:
				c.key.Uniform(want, c.offset)
			case runtime.Rademacher:
				c.key.Rademacher(want, c.offset)
			default: // Box–Muller in float64: Go's log, sin and cos, operation for operation
				c.key.Normal(want, c.offset)
			}
			simCompare(t, fmt.Sprintf("random %s %+v", dist, c), out, want, 0, 0)
		}
	}
}

func TestPTXSimAdam(t *testing.T) {
	entries := simModules()
	r := rand.New(rand.NewPCG(15, 16))
	cpu := runtime.NewCPU(runtime.CPUOptions{Threads: 1})
	n := 300
	vals := [4][]float32{randn(r, n, 1), randn(r, n, 1), randn(r, n, 0.1), randn(r, n, 0.1)}
	for i := range vals[3] {
		vals[3][i] = float32(math.Abs(float64(vals[3][i])))
	}
	mem := &simMem{bufs: map[uint64][]float32{}}
	var addr [4]uint64
	var cb [4]runtime.Buffer
	for i, v := range vals {
		addr[i] = mem.add(append([]float32(nil), v...))
		cb[i] = cpu.Alloc(n, false)
		cpu.Upload(cb[i], v)
	}
	a := &runtime.AdamArgs{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 3}
	runEntry(t, entries["adam"], adamArgs(uintptr(addr[0]), uintptr(addr[1]), uintptr(addr[2]), uintptr(addr[3]), n, a), mem)
	cpu.Adam(cb[0], cb[1], cb[2], cb[3], a)
	for i, name := range []string{"p", "g", "m", "v"} {
		want := make([]float32, n)
		cpu.Download(want, cb[i])
		simCompare(t, "adam "+name, mem.bufs[addr[i]], want, 0, 0)
	}
}

func TestPTXSimMovement(t *testing.T) {
	entries := simModules()
	r := rand.New(rand.NewPCG(17, 18))
	cpu := runtime.NewCPU(runtime.CPUOptions{Threads: 1})
	// Permute.
	for _, c := range []struct{ shape, perm []int }{{[]int{2, 3, 4, 5}, []int{3, 1, 0, 2}}, {[]int{6, 7}, []int{1, 0}}, {[]int{2, 3, 4}, []int{0, 1, 2}}} {
		n := numel(c.shape)
		x := randn(r, n, 1)
		l := runtime.PermuteLayout(c.shape, c.perm)
		meta, ok := broadcastArgs(l, make([]int, len(c.shape)))
		if !ok {
			t.Fatal("permute does not fit")
		}
		mem := &simMem{bufs: map[uint64][]float32{}}
		out := make([]float32, n)
		po, px := mem.add(out), mem.add(x)
		runEntry(t, entries["binary_copy"], binaryArgs(uintptr(po), uintptr(px), uintptr(px), n, meta), mem)
		cx, co := cpu.Alloc(n, false), cpu.Alloc(n, false)
		cpu.Upload(cx, x)
		cpu.Permute(co, cx, c.shape, c.perm)
		want := make([]float32, n)
		cpu.Download(want, co)
		simCompare(t, fmt.Sprintf("permute %v %v", c.shape, c.perm), out, want, 0, 0)
	}
	// Upsample2x and its adjoint, as Device does them.
	nc, h, w := 3, 4, 5
	x := randn(r, nc*h*w, 1)
	meta, _ := broadcastArgs(upsampleLayout(nc, h, w), make([]int, 5))
	mem := &simMem{bufs: map[uint64][]float32{}}
	up := make([]float32, 4*len(x))
	pu, px := mem.add(up), mem.add(x)
	runEntry(t, entries["binary_copy"], binaryArgs(uintptr(pu), uintptr(px), uintptr(px), len(up), meta), mem)
	cx, cu := cpu.Alloc(len(x), false), cpu.Alloc(len(up), false)
	cpu.Upload(cx, x)
	cpu.Upsample2x(cu, cx, nc, h, w)
	want := make([]float32, len(up))
	cpu.Download(want, cu)
	simCompare(t, "upsample2x", up, want, 0, 0)

	g := randn(r, len(up), 1)
	l := upsampleBackLayout(nc, h, w)
	bm, _ := broadcastArgs(l, l.YStrides)
	cont, _ := broadcastArgs(&runtime.Broadcast{Shape: []int{len(x)}, XStrides: []int{1}, YStrides: []int{1}}, []int{1})
	ds, tmp := make([]float32, len(x)), make([]float32, len(x))
	pg, pd, pt := mem.add(g), mem.add(ds), mem.add(tmp)
	at := func(off int) uintptr { return uintptr(pg) + uintptr(off*4) }
	add := entries["binary_add"]
	runEntry(t, add, binaryArgs(uintptr(pd), at(0), at(1), len(x), bm), mem)
	runEntry(t, add, binaryArgs(uintptr(pt), at(2*w), at(2*w+1), len(x), bm), mem)
	runEntry(t, add, binaryArgs(uintptr(pd), uintptr(pd), uintptr(pt), len(x), cont), mem)
	cg, cd := cpu.Alloc(len(g), false), cpu.Alloc(len(x), false)
	cpu.Upload(cg, g)
	cpu.Upsample2xBackward(cd, cg, nc, h, w)
	want = make([]float32, len(x))
	cpu.Download(want, cd)
	simCompare(t, "upsample2x backward", ds, want, 0, 0)
}

// im2col + a plain GEMM must give runtime.CPU's conv2d; col2im of Wᵀ·dy its input grad.
func TestPTXSimConv(t *testing.T) {
	entries := simModules()
	r := rand.New(rand.NewPCG(19, 20))
	cpu := runtime.NewCPU(runtime.CPUOptions{Threads: 1})
	for _, g := range []struct {
		x, w []int
		s, p int
	}{
		{[]int{2, 3, 7, 6}, []int{4, 3, 3, 3}, 1, 1}, {[]int{1, 2, 9, 9}, []int{3, 2, 3, 3}, 2, 1},
		{[]int{2, 2, 5, 6}, []int{2, 2, 1, 1}, 1, 0}, {[]int{1, 1, 8, 8}, []int{2, 1, 4, 4}, 2, 1},
	} {
		c := runtime.ConvGeometry(g.x, g.w, g.s, g.p)
		ckk, ohw := c.C*c.KH*c.KW, c.OutH*c.OutW
		x, w := randn(r, numel(g.x), 1), randn(r, numel(g.w), 1)
		mem := &simMem{bufs: map[uint64][]float32{}}
		col := make([]float32, c.N*ckk*ohw)
		pc, px := mem.add(col), mem.add(x)
		runEntry(t, entries["im2col"], convArgs(uintptr(pc), uintptr(px), len(col), c), mem)
		y := make([]float32, c.N*c.Cout*ohw)
		for n := range c.N {
			for o := range c.Cout {
				for j := range ohw {
					s := float32(0)
					for k := range ckk {
						s += w[o*ckk+k] * col[n*ckk*ohw+k*ohw+j]
					}
					y[(n*c.Cout+o)*ohw+j] = s
				}
			}
		}
		cx, cw, cy := cpu.Alloc(len(x), false), cpu.Alloc(len(w), false), cpu.Alloc(len(y), false)
		cpu.Upload(cx, x)
		cpu.Upload(cw, w)
		cpu.Conv2d(cy, cx, cw, c)
		want := make([]float32, len(y))
		cpu.Download(want, cy)
		simCompare(t, fmt.Sprintf("conv2d %+v", *c), y, want, 1e-4, 1e-4)

		dy := randn(r, len(y), 1)
		dcol := make([]float32, len(col))
		for n := range c.N {
			for k := range ckk {
				for j := range ohw {
					s := float32(0)
					for o := range c.Cout {
						s += w[o*ckk+k] * dy[(n*c.Cout+o)*ohw+j]
					}
					dcol[n*ckk*ohw+k*ohw+j] = s
				}
			}
		}
		dx := make([]float32, len(x))
		pd, pdc := mem.add(dx), mem.add(dcol)
		runEntry(t, entries["col2im"], convArgs(uintptr(pd), uintptr(pdc), len(dx), c), mem)
		cdy, cdx := cpu.Alloc(len(dy), false), cpu.Alloc(len(x), false)
		cpu.Upload(cdy, dy)
		cpu.Conv2dInputGrad(cdx, cdy, cw, c)
		want = make([]float32, len(x))
		cpu.Download(want, cdx)
		simCompare(t, fmt.Sprintf("conv2d input grad %+v", *c), dx, want, 1e-4, 1e-4)
	}
}
