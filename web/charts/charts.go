// Package charts renders small, accessible charts as inline SVG on the
// server: no JavaScript, no external assets. Each chart is a <figure> with
// a caption, an SVG that has role="img", a <title> and a <desc>
// summarising it, a tooltip title on every bar or point, and the same
// numbers as a data table, so screen readers, text browsers and printouts
// get the data too. It knows nothing of Sportello's domain.
package charts

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
)

// Series is one named row of values, one per label.
type Series struct {
	Name   string
	Values []float64
}

// Chart is what to draw.
type Chart struct {
	// ID makes the element ids unique on the page (letters, digits, '-').
	ID string
	// Title is the caption; Desc a one-sentence summary for screen readers.
	Title, Desc string
	// Labels name the points of the horizontal axis.
	Labels []string
	Series []Series
	// Max is the top of the vertical axis; 0 fits the data.
	Max float64
	// Format renders a value (axis, tooltips, table); nil prints it plainly.
	Format func(float64) string
	// LabelHeader heads the table's first column ("Day").
	LabelHeader string
	// Missing marks values that are not measured (NaN) in the table.
	Missing string
}

// Palette: colours distinguishable with common colour-vision deficiencies
// (Okabe–Ito), each at least 3:1 against white.
var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"}

const (
	width, height            = 720, 280
	left, right, top, bottom = 56, 12, 16, 56
	plotW, plotH             = width - left - right, height - top - bottom
	legendRow                = 18
)

func (c Chart) format(v float64) string {
	if math.IsNaN(v) {
		return c.Missing
	}
	if c.Format != nil {
		return c.Format(v)
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// top of the axis: Max, or the largest value (stacked when stacked),
// rounded up to a readable number.
func (c Chart) axisMax(stacked bool) float64 {
	if c.Max > 0 {
		return c.Max
	}
	m := 0.0
	for i := range c.Labels {
		sum := 0.0
		for _, s := range c.Series {
			if i < len(s.Values) && !math.IsNaN(s.Values[i]) {
				if stacked {
					sum += s.Values[i]
				} else {
					sum = math.Max(sum, s.Values[i])
				}
			}
		}
		m = math.Max(m, sum)
	}
	if m <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(m)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*p >= m {
			return f * p
		}
	}
	return 10 * p
}

func (c Chart) open(b *strings.Builder) {
	legendH := legendRow * ((len(c.Series) + 3) / 4)
	fmt.Fprintf(b, `<figure class="chart" id="%s"><figcaption>%s</figcaption>`, esc(c.ID), esc(c.Title))
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 %d %d" width="100%%" aria-labelledby="%s-title %s-desc">`,
		width, height+legendH, esc(c.ID), esc(c.ID))
	fmt.Fprintf(b, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(c.Desc))
}

// axes draws the grid with four steps and every label that fits.
func (c Chart) axes(b *strings.Builder, max float64) {
	b.WriteString(`<g aria-hidden="true" font-size="11" fill="#1a1a1a">`)
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*i/4
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#c5c7c9"/>`, left, y, left+plotW, y)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+4, esc(c.format(max*float64(i)/4)))
	}
	n := len(c.Labels)
	every := max1((n + 11) / 12) // at most about 12 labels
	for i, l := range c.Labels {
		if i%every != 0 {
			continue
		}
		x := left + plotW*(2*i+1)/(2*max1(n))
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, x, top+plotH+16, esc(l))
	}
	b.WriteString(`</g>`)
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func (c Chart) legendAndClose(b *strings.Builder) {
	b.WriteString(`<g font-size="12" fill="#1a1a1a">`)
	for i, s := range c.Series {
		x, y := left+(i%4)*170, height-bottom+34+legendRow*(i/4)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d">%s</text>`,
			x, y-10, palette[i%len(palette)], x+16, y, esc(s.Name))
	}
	b.WriteString(`</g></svg>`)
	c.table(b)
	b.WriteString(`</figure>`)
}

// table is the data table the chart draws.
func (c Chart) table(b *strings.Builder) {
	fmt.Fprintf(b, `<details><summary>%s</summary><table><caption>%s</caption><thead><tr><th scope="col">%s</th>`,
		esc(c.Title), esc(c.Title), esc(c.LabelHeader))
	for _, s := range c.Series {
		fmt.Fprintf(b, `<th scope="col">%s</th>`, esc(s.Name))
	}
	b.WriteString(`</tr></thead><tbody>`)
	for i, l := range c.Labels {
		fmt.Fprintf(b, `<tr><th scope="row">%s</th>`, esc(l))
		for _, s := range c.Series {
			v := math.NaN()
			if i < len(s.Values) {
				v = s.Values[i]
			}
			fmt.Fprintf(b, `<td>%s</td>`, esc(c.format(v)))
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table></details>`)
}

// Bar draws the series as stacked bars, one bar per label.
func Bar(c Chart) template.HTML {
	var b strings.Builder
	c.open(&b)
	max := c.axisMax(true)
	c.axes(&b, max)
	n := max1(len(c.Labels))
	slot := float64(plotW) / float64(n)
	barW := math.Max(1, slot*0.7)
	for i, l := range c.Labels {
		x := float64(left) + slot*float64(i) + (slot-barW)/2
		base := 0.0
		for si, s := range c.Series {
			if i >= len(s.Values) || math.IsNaN(s.Values[i]) || s.Values[i] <= 0 {
				continue
			}
			v := s.Values[i]
			h := float64(plotH) * v / max
			y := float64(top+plotH) - float64(plotH)*(base+v)/max
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s, %s: %s</title></rect>`,
				x, y, barW, h, palette[si%len(palette)], esc(l), esc(s.Name), esc(c.format(v)))
			base += v
		}
	}
	c.legendAndClose(&b)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped above
}

// Line draws each series as a line with a marked point per label; a NaN
// value breaks the line.
func Line(c Chart) template.HTML {
	var b strings.Builder
	c.open(&b)
	max := c.axisMax(false)
	c.axes(&b, max)
	n := max1(len(c.Labels))
	for si, s := range c.Series {
		colour := palette[si%len(palette)]
		var path strings.Builder
		pen := "M"
		for i := range c.Labels {
			if i >= len(s.Values) || math.IsNaN(s.Values[i]) {
				pen = "M"
				continue
			}
			x := float64(left) + float64(plotW)*float64(2*i+1)/float64(2*n)
			y := float64(top+plotH) - float64(plotH)*s.Values[i]/max
			fmt.Fprintf(&path, "%s%.1f %.1f ", pen, x, y)
			pen = "L"
		}
		if path.Len() > 0 {
			fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.TrimSpace(path.String()), colour)
		}
		for i, l := range c.Labels {
			if i >= len(s.Values) || math.IsNaN(s.Values[i]) {
				continue
			}
			x := float64(left) + float64(plotW)*float64(2*i+1)/float64(2*n)
			y := float64(top+plotH) - float64(plotH)*s.Values[i]/max
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s, %s: %s</title></circle>`,
				x, y, colour, esc(l), esc(s.Name), esc(c.format(s.Values[i])))
		}
	}
	c.legendAndClose(&b)
	return template.HTML(b.String()) //nolint:gosec // every text is escaped above
}
