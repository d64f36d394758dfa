package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The rollup keeps the report durations (working seconds) as histograms
// with fixed buckets, so the median and the 90th percentile of any range
// of days are a merge of the days' histograms rather than a sort of every
// case. Values below histExact seconds have a bucket each (exact); above,
// a bucket spans a factor histRatio and stands for the rounded geometric
// middle of its values. A percentile read from a histogram is therefore
// the representative of the bucket holding the exact nearest-rank value,
// and |approximate - exact| <= HistError*exact + 1 s (tested in
// reporthist_test.go).
const (
	histExact = 64
	histRatio = 1.02
	// HistError is the relative error bound of a percentile read from the
	// rollup's histograms (plus one second of rounding).
	HistError = 0.01
)

var logHistRatio = math.Log(histRatio)

// histBucket is the bucket of v seconds (negative values count as 0).
func histBucket(v int64) int {
	if v < histExact {
		return int(max(v, 0))
	}
	return histExact + int(math.Floor(math.Log(float64(v)/histExact)/logHistRatio))
}

// histValue is the value that stands for bucket b: the rounded geometric
// middle of its bounds, kept inside them.
func histValue(b int) int64 {
	if b < histExact {
		return int64(b)
	}
	lo := histExact * math.Pow(histRatio, float64(b-histExact))
	hi := lo * histRatio
	v := int64(math.Round(math.Sqrt(lo * hi)))
	return min(max(v, int64(math.Ceil(lo))), max(int64(math.Ceil(hi))-1, int64(math.Ceil(lo))))
}

// hist is a histogram of durations: counts by bucket.
type hist []int64

func (h *hist) addBucket(b int, n int64) {
	if b >= len(*h) {
		*h = append(*h, make([]int64, b+1-len(*h)+16)...)
	}
	(*h)[b] += n
}

func (h *hist) add(v int64) { h.addBucket(histBucket(v), 1) }

// encode writes the non-empty buckets as uvarint pairs (gap from the
// previous bucket, count).
func (h hist) encode() []byte {
	out := make([]byte, 0, 64)
	prev := 0
	for b, n := range h {
		if n == 0 {
			continue
		}
		out = binary.AppendUvarint(out, uint64(b-prev))
		out = binary.AppendUvarint(out, uint64(n))
		prev = b
	}
	return out
}

// merge adds an encoded histogram and returns how many values it held.
func (h *hist) merge(enc []byte) (int64, error) {
	var total int64
	b := 0
	for len(enc) > 0 {
		gap, n1 := binary.Uvarint(enc)
		if n1 <= 0 {
			return 0, fmt.Errorf("corrupt report histogram")
		}
		n, n2 := binary.Uvarint(enc[n1:])
		if n2 <= 0 || gap > 1<<20 {
			return 0, fmt.Errorf("corrupt report histogram")
		}
		enc = enc[n1+n2:]
		b += int(gap)
		h.addBucket(b, int64(n))
		total += int64(n)
	}
	return total, nil
}

// rank is the representative of the bucket holding the nearest-rank p
// value of the n values of h (PostgreSQL's percentile_disc on the
// buckets); nil for none.
func (h hist) rank(n int64, p float64) *int64 {
	if n == 0 {
		return nil
	}
	k := int64(float64(n)*p + 0.999999999)
	k = min(max(k, 1), n)
	var seen int64
	for b, c := range h {
		seen += c
		if seen >= k {
			v := histValue(b)
			return &v
		}
	}
	return nil
}
