package surveys

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestPublishSuppressesSmallCells(t *testing.T) {
	cells := []Cell{
		{Version: 1, Department: "it", Month: "2026-01", Responses: 12, EaseSum: 48, EaseCounts: [5]int64{0, 0, 0, 0, 12}, ResolvedYes: 12},
		{Version: 1, Department: "statistics", Month: "2026-01", Responses: 9, EaseSum: 9, EaseCounts: [5]int64{9, 0, 0, 0, 0}, ResolvedNo: 9},
	}
	rows := Publish(cells, 10, "istat")
	if rows[0].Suppressed || rows[0].EaseMean != 4 || rows[0].Administration != "istat" || rows[0].Responses != 12 {
		t.Fatalf("kept row = %+v", rows[0])
	}
	r := rows[1]
	if !r.Suppressed || r.Responses != 0 || r.EaseSum != 0 || r.EaseCounts != [5]int64{} || r.ResolvedNo != 0 || r.Department != "statistics" {
		t.Fatalf("suppressed row = %+v", r)
	}
	if rows := Publish(cells, 9, "istat"); rows[1].Suppressed {
		t.Fatal("k = 9 suppressed a group of 9")
	}
}

func TestExport(t *testing.T) {
	rows := Publish([]Cell{{Version: 2, Category: "microdati, \"censimento\"", Department: "statistics", Channel: "email", Month: "2026-03",
		Responses: 10, EaseSum: 37, EaseCounts: [5]int64{1, 1, 1, 3, 4}, ResolvedYes: 6, ResolvedPartly: 2, ResolvedNo: 1}}, 10, "istat")
	b, err := ExportCSV(rows)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(recs) != 2 || strings.Join(recs[0], ",") != strings.Join(ExportColumns, ",") {
		t.Fatalf("csv = %q, %v", recs, err)
	}
	want := []string{"istat", "2", "2026-03", "microdati, \"censimento\"", "statistics", "email", "false", "10", "3.70", "1", "1", "1", "3", "4", "6", "2", "1"}
	if strings.Join(recs[1], "|") != strings.Join(want, "|") {
		t.Fatalf("csv row = %q, want %q", recs[1], want)
	}
	j, err := ExportJSON(rows, 10)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Format       string           `json:"format"`
		MinGroupSize int              `json:"min_group_size"`
		Rows         []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(j, &doc); err != nil || doc.Format != ExportFormatVersion || doc.MinGroupSize != 10 || len(doc.Rows) != 1 {
		t.Fatalf("json = %s, %v", j, err)
	}
	for _, c := range ExportColumns {
		if _, ok := doc.Rows[0][c]; !ok {
			t.Errorf("JSON row lacks %q", c)
		}
	}
	if len(doc.Rows[0]) != len(ExportColumns) || doc.Rows[0]["ease_mean"] != 3.7 {
		t.Fatalf("JSON row = %v", doc.Rows[0])
	}
}

func TestQueryValidate(t *testing.T) {
	for _, q := range []Query{{GroupBy: []Dimension{"operator"}}, {StartMonth: "2026-13"}, {EndMonth: "26-01"}, {StartMonth: "2026-05", EndMonth: "2026-04"}} {
		if err := q.Validate(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%+v: %v", q, err)
		}
	}
	if err := (Query{GroupBy: Dimensions, StartMonth: "2026-01", EndMonth: "2026-12"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestQuestionnaireValidate(t *testing.T) {
	if err := Default.Validate(); err != nil {
		t.Fatal(err)
	}
	q := Default
	q.EaseQuestion = Text{EN: "only English"}
	q.Preferred = append([]Option{{Code: "Bad Code", Label: Text{IT: "x"}}}, Default.Preferred[0], Default.Preferred[0])
	err := q.Validate()
	for _, want := range []string{"ease_question.it is required", "preferred[0].code", `preferred[2].code "clear_instructions" is repeated`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestConfig(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	c := Config{Administration: "Comune Milano", MinGroupSize: -1, LinkTTL: "400d"}
	err := c.Validate()
	for _, want := range []string{"surveys.administration", "surveys.min_group_size", "surveys.link_ttl"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if d, err := (Config{LinkTTL: "7d"}).TTL(); err != nil || d.Hours() != 168 {
		t.Fatalf("7d = %v, %v", d, err)
	}
}

// TestExportSchemaMatchesColumns keeps docs/surveys-export.schema.json in
// step with the export.
func TestExportSchemaMatchesColumns(t *testing.T) {
	b, err := os.ReadFile("../../docs/surveys-export.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Format struct {
				Const string `json:"const"`
			} `json:"format"`
			Rows struct {
				Items struct {
					Required   []string       `json:"required"`
					Properties map[string]any `json:"properties"`
				} `json:"items"`
			} `json:"rows"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	items := schema.Properties.Rows.Items
	if schema.Properties.Format.Const != ExportFormatVersion || !slices.Equal(items.Required, ExportColumns) || len(items.Properties) != len(ExportColumns) {
		t.Fatalf("schema %s / %v does not match %s / %v", schema.Properties.Format.Const, items.Required, ExportFormatVersion, ExportColumns)
	}
}
