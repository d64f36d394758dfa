package storage

import (
	"context"
	"sync"
	"time"
)

// deptFlagsTTL bounds how long another replica's change to a department's
// skill matching takes to reach this one (the SLA and routing caches of
// the server use the same 30 s); this replica's own changes apply at once.
const deptFlagsTTL = 30 * time.Second

// deptFlags caches which departments match skills: ClaimNextCase needs it
// on every claim, and the directory changes rarely.
type deptFlags struct {
	mu       sync.Mutex
	at       time.Time
	matching map[string]bool
}

// matchingDepartments returns those of departments that match skills.
func (db *DB) matchingDepartments(ctx context.Context, departments []string) ([]string, error) {
	f := db.depts
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.matching == nil || time.Since(f.at) >= deptFlagsTTL {
		var ids []string
		if err := db.gorm.WithContext(ctx).Model(&departmentRow{}).Where("match_skills = ?", true).Pluck("id", &ids).Error; err != nil {
			return nil, err
		}
		f.matching, f.at = make(map[string]bool, len(ids)), time.Now()
		for _, id := range ids {
			f.matching[id] = true
		}
	}
	var out []string
	for _, d := range departments {
		if f.matching[d] {
			out = append(out, d)
		}
	}
	return out, nil
}

// forgetDepartments drops the cache after this replica changed a department.
func (db *DB) forgetDepartments() {
	db.depts.mu.Lock()
	db.depts.matching = nil
	db.depts.mu.Unlock()
}
