package charts

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
)

func sample() Chart {
	return Chart{ID: "vol", Title: `Volume <script>alert(1)</script>`, Desc: "Cases per day & channel", LabelHeader: "Day",
		Labels:  []string{"1 Nov", "2 Nov", "3 Nov"},
		Series:  []Series{{Name: "email", Values: []float64{3, 0, 5}}, {Name: "web <form>", Values: []float64{1, 2, math.NaN()}}},
		Missing: "–"}
}

// wellFormed parses the figure as XML: every element closed, every text
// escaped.
func wellFormed(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		if _, err := d.Token(); err == io.EOF {
			return
		} else if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, s)
		}
	}
}

func TestCharts(t *testing.T) {
	for name, render := range map[string]func(Chart) string{
		"bar":  func(c Chart) string { return string(Bar(c)) },
		"line": func(c Chart) string { return string(Line(c)) },
	} {
		t.Run(name, func(t *testing.T) {
			out := render(sample())
			wellFormed(t, out)
			for _, want := range []string{
				`role="img"`, `aria-labelledby="vol-title vol-desc"`,
				`<title id="vol-title">Volume &lt;script&gt;alert(1)&lt;/script&gt;</title>`,
				`<desc id="vol-desc">Cases per day &amp; channel</desc>`,
				`<th scope="col">web &lt;form&gt;</th>`,
				`<tr><th scope="row">3 Nov</th><td>5</td><td>–</td></tr>`,
				`<title>3 Nov, email: 5</title>`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("missing %s", want)
				}
			}
			if strings.Contains(out, "<script>") {
				t.Error("unescaped text")
			}
		})
	}
	// Bars: one per positive value, stacked; zero and NaN draw nothing.
	if n := strings.Count(string(Bar(sample())), "<rect x=") - 2; n != 4 { // minus the legend's two
		t.Fatalf("%d bars, want 4", n)
	}
	// Lines: a NaN ends the path; points only where measured.
	line := string(Line(sample()))
	if n := strings.Count(line, "<circle"); n != 5 {
		t.Fatalf("%d points, want 5", n)
	}
}

func TestAxisMax(t *testing.T) {
	tests := []struct {
		values  []float64
		stacked bool
		want    float64
	}{
		{[]float64{0, 0}, false, 1},
		{[]float64{3, 7}, false, 10},
		{[]float64{3, 7}, true, 10},
		{[]float64{120, 30}, true, 200},
		{[]float64{0.83}, false, 1},
		{[]float64{2100}, false, 2500},
	}
	for _, tt := range tests {
		c := Chart{Labels: make([]string, len(tt.values)), Series: []Series{{Values: tt.values}}}
		if tt.stacked {
			c.Series = []Series{{Values: tt.values[:1]}, {Values: tt.values[1:]}}
			c.Labels = c.Labels[:1]
		}
		if got := c.axisMax(tt.stacked); got != tt.want {
			t.Errorf("axisMax(%v, stacked %v) = %v, want %v", tt.values, tt.stacked, got, tt.want)
		}
	}
}
