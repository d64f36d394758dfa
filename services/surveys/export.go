package surveys

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
)

// ExportColumns are the CSV header and the JSON field names, in order
// (docs/surveys-export.md, docs/surveys-export.schema.json).
var ExportColumns = []string{"administration", "questionnaire_version", "month", "category", "department", "channel",
	"suppressed", "responses", "ease_mean", "ease_1", "ease_2", "ease_3", "ease_4", "ease_5",
	"resolved_yes", "resolved_partly", "resolved_no"}

// ExportFormatVersion names the export schema; it changes only with an
// incompatible change to the columns.
const ExportFormatVersion = "sportello-surveys/1"

type exportRow struct {
	Administration       string  `json:"administration"`
	QuestionnaireVersion int     `json:"questionnaire_version"`
	Month                string  `json:"month"`
	Category             string  `json:"category"`
	Department           string  `json:"department"`
	Channel              string  `json:"channel"`
	Suppressed           bool    `json:"suppressed"`
	Responses            int64   `json:"responses"`
	EaseMean             float64 `json:"ease_mean"`
	Ease1                int64   `json:"ease_1"`
	Ease2                int64   `json:"ease_2"`
	Ease3                int64   `json:"ease_3"`
	Ease4                int64   `json:"ease_4"`
	Ease5                int64   `json:"ease_5"`
	ResolvedYes          int64   `json:"resolved_yes"`
	ResolvedPartly       int64   `json:"resolved_partly"`
	ResolvedNo           int64   `json:"resolved_no"`
}

type exportDoc struct {
	Format       string      `json:"format"`
	MinGroupSize int         `json:"min_group_size"`
	Rows         []exportRow `json:"rows"`
}

func toExport(r Row) exportRow {
	return exportRow{Administration: r.Administration, QuestionnaireVersion: r.Version, Month: r.Month, Category: r.Category,
		Department: r.Department, Channel: r.Channel, Suppressed: r.Suppressed, Responses: r.Responses,
		EaseMean: round2(r.EaseMean), Ease1: r.EaseCounts[0], Ease2: r.EaseCounts[1], Ease3: r.EaseCounts[2], Ease4: r.EaseCounts[3],
		Ease5: r.EaseCounts[4], ResolvedYes: r.ResolvedYes, ResolvedPartly: r.ResolvedPartly, ResolvedNo: r.ResolvedNo}
}

func round2(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 2, 64), 64)
	return v
}

// ExportJSON renders rows as the JSON export document.
func ExportJSON(rows []Row, k int) ([]byte, error) {
	doc := exportDoc{Format: ExportFormatVersion, MinGroupSize: k, Rows: make([]exportRow, len(rows))}
	for i, r := range rows {
		doc.Rows[i] = toExport(r)
	}
	return json.MarshalIndent(doc, "", "  ")
}

// ExportCSV renders rows as RFC 4180 CSV with a header line.
func ExportCSV(rows []Row) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(ExportColumns)
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, r := range rows {
		e := toExport(r)
		_ = w.Write([]string{e.Administration, strconv.Itoa(e.QuestionnaireVersion), e.Month, e.Category, e.Department, e.Channel,
			strconv.FormatBool(e.Suppressed), i64(e.Responses), strconv.FormatFloat(e.EaseMean, 'f', 2, 64),
			i64(e.Ease1), i64(e.Ease2), i64(e.Ease3), i64(e.Ease4), i64(e.Ease5),
			i64(e.ResolvedYes), i64(e.ResolvedPartly), i64(e.ResolvedNo)})
	}
	w.Flush()
	return b.Bytes(), w.Error()
}
