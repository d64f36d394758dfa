package reports

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"time"

	reportsv1 "github.com/sportello/sportello/api/sportello/reports/v1"
)

// The CSV exports: a header row, then one row per line of the report.
// Times are RFC 3339 in UTC, durations whole seconds. The performance
// export's first row is the total, with an empty department.
var (
	VolumeColumns = []string{"start_time", "department", "channel", "created",
		"first_response_sla_met", "first_response_sla_total", "resolution_sla_met", "resolution_sla_total"}
	PerformanceColumns = []string{"department", "created",
		"first_response_count", "first_response_median_seconds", "first_response_p90_seconds",
		"resolution_count", "resolution_median_seconds", "resolution_p90_seconds",
		"first_response_sla_met", "first_response_sla_total", "resolution_sla_met", "resolution_sla_total",
		"resolved", "reopened"}
	BacklogColumns   = append([]string{"department"}, append(AgeLabels[:len(AgeLabels):len(AgeLabels)], "total")...)
	OperatorsColumns = []string{"operator", "department", "handled", "open"}
)

func writeCSV(header []string, rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true // RFC 4180
	if err := w.Write(header); err != nil {
		return nil, err
	}
	for _, r := range rows {
		for i, v := range r {
			r[i] = cell(v)
		}
		if err := w.Write(r); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// cell defuses a text a spreadsheet would run as a formula (names come
// from configuration, but a CSV is opened by people).
func cell(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '@' || v[0] == '\t' || v[0] == '\r' || (v[0] == '-' && !isNumber(v))) {
		return "'" + v
	}
	return v
}

func isNumber(v string) bool {
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

func itoa[T ~int32 | ~int64](n T) string { return strconv.FormatInt(int64(n), 10) }

// VolumeCSV renders a volume report.
func VolumeCSV(v *reportsv1.VolumeReport) ([]byte, error) {
	rows := make([][]string, 0, len(v.GetBuckets()))
	for _, b := range v.GetBuckets() {
		rows = append(rows, []string{b.GetStartTime().AsTime().UTC().Format(time.RFC3339), b.GetDepartment(), b.GetChannel(), itoa(b.GetCreated()),
			itoa(b.GetFirstResponseSla().GetMet()), itoa(b.GetFirstResponseSla().GetTotal()),
			itoa(b.GetResolutionSla().GetMet()), itoa(b.GetResolutionSla().GetTotal())})
	}
	return writeCSV(VolumeColumns, rows)
}

// PerformanceCSV renders a performance report, the total first.
func PerformanceCSV(p *reportsv1.PerformanceReport) ([]byte, error) {
	all := append([]*reportsv1.DepartmentPerformance{p.GetTotal()}, p.GetDepartments()...)
	rows := make([][]string, 0, len(all))
	for _, d := range all {
		rows = append(rows, []string{d.GetDepartment(), itoa(d.GetCreated()),
			itoa(d.GetFirstResponse().GetCount()), itoa(d.GetFirstResponse().GetMedianSeconds()), itoa(d.GetFirstResponse().GetP90Seconds()),
			itoa(d.GetResolution().GetCount()), itoa(d.GetResolution().GetMedianSeconds()), itoa(d.GetResolution().GetP90Seconds()),
			itoa(d.GetFirstResponseSla().GetMet()), itoa(d.GetFirstResponseSla().GetTotal()),
			itoa(d.GetResolutionSla().GetMet()), itoa(d.GetResolutionSla().GetTotal()),
			itoa(d.GetResolved()), itoa(d.GetReopened())})
	}
	return writeCSV(PerformanceColumns, rows)
}

// BacklogCSV renders a backlog report.
func BacklogCSV(b *reportsv1.BacklogReport) ([]byte, error) {
	rows := make([][]string, 0, len(b.GetDepartments()))
	for _, d := range b.GetDepartments() {
		r := []string{d.GetDepartment()}
		for _, n := range d.GetCounts() {
			r = append(r, itoa(n))
		}
		rows = append(rows, append(r, itoa(d.GetTotal())))
	}
	return writeCSV(BacklogColumns, rows)
}

// OperatorsCSV renders an operator report.
func OperatorsCSV(o *reportsv1.OperatorReport) ([]byte, error) {
	rows := make([][]string, 0, len(o.GetOperators()))
	for _, op := range o.GetOperators() {
		rows = append(rows, []string{op.GetOperator(), op.GetDepartment(), itoa(op.GetHandled()), itoa(op.GetOpen())})
	}
	return writeCSV(OperatorsColumns, rows)
}
