package surveys

import (
	"fmt"
	"regexp"
	"slices"
)

// Dimension is what results can be grouped by (besides the questionnaire
// version, which they always are).
type Dimension string

const (
	ByCategory   Dimension = "category"
	ByDepartment Dimension = "department"
	ByChannel    Dimension = "channel"
	ByMonth      Dimension = "month"
)

// Dimensions lists every dimension in the export's column order.
var Dimensions = []Dimension{ByMonth, ByCategory, ByDepartment, ByChannel}

// DefaultMinGroupSize is k: a group of fewer responses is suppressed.
const DefaultMinGroupSize = 10

// Query selects and groups responses.
type Query struct {
	GroupBy []Dimension
	// StartMonth and EndMonth ("YYYY-MM", inclusive) bound the months;
	// "" leaves that end open.
	StartMonth, EndMonth string
	// Departments: only these; nil means every department.
	Departments []string
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// Validate checks the query's dimensions and months.
func (q Query) Validate() error {
	for _, d := range q.GroupBy {
		if !slices.Contains(Dimensions, d) {
			return fmt.Errorf("%w: unknown group_by %q (want category, department, channel or month)", ErrInvalidArgument, d)
		}
	}
	for _, m := range []string{q.StartMonth, q.EndMonth} {
		if m != "" && !monthRE.MatchString(m) {
			return fmt.Errorf("%w: month %q is not YYYY-MM", ErrInvalidArgument, m)
		}
	}
	if q.StartMonth != "" && q.EndMonth != "" && q.StartMonth > q.EndMonth {
		return fmt.Errorf("%w: start_month %s is after end_month %s", ErrInvalidArgument, q.StartMonth, q.EndMonth)
	}
	return nil
}

// Groups reports whether the query groups by d.
func (q Query) Groups(d Dimension) bool { return slices.Contains(q.GroupBy, d) }

// Cell is one group's raw figures as the store sums them; the dimensions
// not grouped by are "".
type Cell struct {
	Version                                 int
	Category, Department, Channel, Month    string
	Responses                               int64
	EaseSum                                 int64
	EaseCounts                              [5]int64 // answers 1..5
	ResolvedYes, ResolvedPartly, ResolvedNo int64
}

// Row is a cell as it is published: suppressed below the minimum group
// size.
type Row struct {
	Cell
	Administration string
	Suppressed     bool
	EaseMean       float64
}

// Publish turns cells into rows, suppressing every cell with fewer than k
// responses (its figures are zeroed, its dimensions kept).
func Publish(cells []Cell, k int, administration string) []Row {
	rows := make([]Row, len(cells))
	for i, c := range cells {
		r := Row{Cell: c, Administration: administration}
		if c.Responses < int64(k) {
			r.Suppressed = true
			r.Cell = Cell{Version: c.Version, Category: c.Category, Department: c.Department, Channel: c.Channel, Month: c.Month}
		} else if c.Responses > 0 {
			r.EaseMean = float64(c.EaseSum) / float64(c.Responses)
		}
		rows[i] = r
	}
	return rows
}
