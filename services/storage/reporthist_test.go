package storage

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The error bound of HistError holds for every value and for percentiles
// of merged histograms.
func TestHistBound(t *testing.T) {
	within := func(got, want int64) bool {
		d := got - want
		if d < 0 {
			d = -d
		}
		return float64(d) <= HistError*float64(want)+1
	}
	for _, v := range []int64{0, 1, 63, 64, 65, 99, 100, 1000, 1200, 3600, 7200, 36000, 86399, 1 << 30} {
		if got := histValue(histBucket(v)); !within(got, v) {
			t.Errorf("value %d stands as %d", v, got)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		v := r.Int64N(1 << uint(r.IntN(34)+1))
		if got := histValue(histBucket(v)); !within(got, v) || histBucket(histValue(histBucket(v))) != histBucket(v) {
			t.Fatalf("value %d stands as %d (bucket %d)", v, got, histBucket(v))
		}
	}
	tests := []struct {
		name string
		n    int
		gen  func() int64
	}{
		{"uniform", 10000, func() int64 { return r.Int64N(100000) }},
		{"long tail", 5000, func() int64 { return int64(r.ExpFloat64() * 20000) }},
		{"small", 7, func() int64 { return r.Int64N(50) }},
		{"one", 1, func() int64 { return 123456 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Split over three encoded "days", merged back.
			vals := make([]int64, tt.n)
			days := make([]hist, 3)
			for i := range vals {
				vals[i] = tt.gen()
				days[i%3].add(vals[i])
			}
			var merged hist
			var n int64
			for _, d := range days {
				c, err := merged.merge(d.encode())
				if err != nil {
					t.Fatal(err)
				}
				n += c
			}
			if n != int64(tt.n) {
				t.Fatalf("merged %d values, want %d", n, tt.n)
			}
			slices.Sort(vals)
			for _, p := range []float64{0.5, 0.9} {
				exact, approx := nearestRank(vals, p), merged.rank(n, p)
				if !within(*approx, *exact) {
					t.Errorf("p%v = %d, exact %d", p*100, *approx, *exact)
				}
			}
		})
	}
	var h hist
	if _, err := h.merge([]byte{0x80}); err == nil {
		t.Error("a truncated histogram merged")
	}
}
