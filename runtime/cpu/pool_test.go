package cpu

import "testing"

func TestPoolClasses(t *testing.T) {
	for _, n := range []int{PoolMinLen, PoolMinLen + 1, 5000, 1 << 20, 1<<20 + 1, 3_000_001} {
		c := poolCap(n)
		if c < n || float64(c) > 1.25*float64(n)+1 {
			t.Errorf("poolCap(%d) = %d, want within [n, 1.25n]", n, c)
		}
		if poolCap(c) != c {
			t.Errorf("poolCap(poolCap(%d) = %d) = %d, want a fixed point", n, c, poolCap(c))
		}
	}
}

func TestPoolReuse(t *testing.T) {
	p := NewPool(1 << 30)
	a, fresh := p.Get(10000)
	if !fresh || len(a) != 10000 {
		t.Fatalf("first Get: len %d fresh %v", len(a), fresh)
	}
	a[0] = 42
	p.Put(a)
	b, fresh := p.Get(9999) // same class
	if fresh || len(b) != 9999 || b[0] != 42 {
		t.Fatalf("second Get: len %d fresh %v b[0] %v, want the slice given back", len(b), fresh, b[0])
	}
	c, fresh := p.Get(20000) // another class
	if !fresh {
		t.Fatal("Get of a new class reused a slice")
	}
	s := p.Stats()
	if s.Gets != 3 || s.Hits != 1 || s.Puts != 1 || s.HeldBytes != 0 || s.OutBytes != int64(cap(b)+cap(c))*4 {
		t.Fatalf("stats %+v", s)
	}
	p.Put(b)
	p.Put(c)
	if s := p.Stats(); s.HeldBytes != int64(cap(b)+cap(c))*4 || s.PeakHeld != s.HeldBytes || s.OutBytes != 0 {
		t.Fatalf("stats after puts %+v", s)
	}
	if small, fresh := p.Get(10); !fresh || len(small) != 10 {
		t.Fatal("small Get not fresh")
	}
}

func TestPoolLimit(t *testing.T) {
	p := NewPool(int64(poolCap(10000)) * 4) // room for one slice
	a, _ := p.Get(10000)
	b, _ := p.Get(10000)
	p.Put(a)
	p.Put(b)
	if s := p.Stats(); s.Dropped != 1 || s.HeldBytes != int64(cap(a))*4 {
		t.Fatalf("stats %+v, want one kept and one dropped", s)
	}
	p.Release()
	if _, fresh := p.Get(10000); !fresh {
		t.Fatal("Get after Release reused a slice")
	}
}
