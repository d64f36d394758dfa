package storage

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/search"
)

// Full-text search on PostgreSQL has two good plans, and the planner
// cannot always tell which one applies. For words in many cases, walking
// the wanted order (the primary key backwards for "newest first") finds
// 50 matches after a few thousand rows. For rare words, that walk reads
// the whole table (19 s with 1M cases for a word in none); the GIN index
// gives the few matches at once, then they are sorted. The planner knows
// the frequency of the lexemes in its statistics' most-common list; for any
// other it assumes 0.5 % of the rows, which makes the walk look cheap, and
// it multiplies frequencies as if words were independent.
//
// So searchPlan estimates the query's frequency itself: a term not in the
// list is rarer than every listed one, and a query (all terms must match)
// is no more frequent than its rarest term. Below bitmapBelow, ListCases
// runs the query with index and sequential scans off, so that the bitmap
// scan of the GIN index is what remains; above it, the planner chooses.
const bitmapBelow = 0.01

// statsTTL is how long the most-common list is cached; autovacuum's
// ANALYZE changes it slowly.
const statsTTL = 5 * time.Minute

type searchStats struct {
	mu     sync.Mutex
	at     time.Time
	common map[string]float64 // lexeme → fraction of cases
}

// rareSearchSettings make the GIN index the only way in.
var rareSearchSettings = []string{"SET LOCAL enable_indexscan = off", "SET LOCAL enable_seqscan = off"}

// searchPlan returns the settings to run q with: rareSearchSettings for a
// PostgreSQL text search whose rarest term is in fewer than bitmapBelow
// of the cases, else none.
func (db *DB) searchPlan(ctx context.Context, q cases.Query) []string {
	if db.dialect != Postgres || q.Text == "" {
		return nil
	}
	common := db.commonLexemes(ctx)
	freq := 1.0
	for _, t := range search.Terms(q.Text) {
		freq = min(freq, common[t]) // 0 when not listed
	}
	if freq >= bitmapBelow {
		return nil
	}
	return rareSearchSettings
}

// commonLexemes is the most-common-elements list of cases.search_vector's
// statistics with each lexeme's frequency; empty before the first ANALYZE
// (a small table, where the bitmap scan is right anyway). On error the
// last list is kept.
func (db *DB) commonLexemes(ctx context.Context) map[string]float64 {
	s := db.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.common != nil && time.Since(s.at) < statsTTL {
		return s.common
	}
	var row struct{ Elems, Freqs string }
	err := db.gorm.WithContext(ctx).Raw(`SELECT COALESCE(most_common_elems::text, '') AS elems,
		COALESCE(most_common_elem_freqs::text, '') AS freqs FROM pg_stats
		WHERE schemaname = current_schema() AND tablename = 'cases' AND attname = 'search_vector'`).Scan(&row).Error
	if err != nil && s.common != nil {
		return s.common
	}
	s.common, s.at = lexemeFrequencies(row.Elems, row.Freqs), time.Now()
	return s.common
}

// lexemeFrequencies pairs pg_stats' most_common_elems with
// most_common_elem_freqs (which has three more values at its end: the
// minimum and maximum frequency and the null fraction), both in
// PostgreSQL's text form of an array: {a,b,"c d"}. Lexemes here are letters
// and digits (services/search), so quoting is rare; it is handled anyway.
func lexemeFrequencies(elems, freqs string) map[string]float64 {
	out := map[string]float64{}
	es, fs := textArray(elems), textArray(freqs)
	for i, e := range es {
		if i >= len(fs) {
			break
		}
		if f, err := strconv.ParseFloat(fs[i], 64); err == nil && e != "" {
			out[e] = f
		}
	}
	return out
}

func textArray(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i, e := range parts {
		e = strings.TrimSpace(e)
		if len(e) >= 2 && strings.HasPrefix(e, `"`) && strings.HasSuffix(e, `"`) {
			e = strings.ReplaceAll(e[1:len(e)-1], `\"`, `"`)
		}
		parts[i] = e
	}
	return parts
}
