package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/sportello/sportello/services/cases"
	"github.com/sportello/sportello/services/directory"
)

var _ cases.History = (*DB)(nil)

// UpdateCase implements cases.History with a conditional update on the
// version, so two writers (goroutines or replicas) can never both apply a
// change to the same version of a case.
func (db *DB) UpdateCase(ctx context.Context, id string, expectVersion int64, fn cases.Mutation) (cases.Case, error) {
	if !validUUID(id) {
		return cases.Case{}, fmt.Errorf("%w: %s", cases.ErrNotFound, id)
	}
	var out cases.Case
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r caseRow
		err := tx.Where("id = ?", id).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fmt.Errorf("%w: %s", cases.ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if expectVersion > 0 && r.Version != expectVersion {
			return fmt.Errorf("%w: it is at version %d, you sent %d", cases.ErrConflict, r.Version, expectVersion)
		}
		out, err = db.apply(tx, r, fn)
		return err
	})
	return out, retryable(err)
}

// apply runs fn on the case read as r and, if it returns events, writes
// the case at the next version, the operators' open-case counts and the
// events, in tx.
func (db *DB) apply(tx *gorm.DB, r caseRow, fn cases.Mutation) (cases.Case, error) {
	c := r.toCase()
	evs, err := fn(&c)
	if err != nil {
		return cases.Case{}, err
	}
	if len(evs) == 0 {
		return r.toCase(), nil
	}
	if c.Category != r.CategoryCode {
		// The skill the case needs follows its category.
		c.RequiredSkill = ""
		if c.Category != "" {
			var cat []categoryRow
			if err := tx.Where("code = ?", c.Category).Limit(1).Find(&cat).Error; err != nil {
				return cases.Case{}, err
			}
			if len(cat) == 0 {
				return cases.Case{}, fmt.Errorf("%w: unknown category %q", cases.ErrInvalidArgument, c.Category)
			}
			c.RequiredSkill = cat[0].Skill
		}
	}
	now := time.Now().UTC()
	c.Version, c.UpdatedAt = r.Version+1, now
	if settles(c.Status) && c.Status != cases.Status(r.Status) {
		c.SettledAt = now
	}
	changes := map[string]any{
		"settled_at": optTime(c.SettledAt), "merged_into": optString(c.MergedInto),
		"subject": c.Subject, "status": string(c.Status), "priority": int(c.Priority), "category_code": c.Category,
		"department_id": c.Department, "assignee_id": c.Assignee, "updated_at": now, "version": c.Version,
		"sla_due_at": dueOrNone(c.SLADueAt), "sla_warn_at": optTime(c.SLAWarnAt), "sla_paused_at": optTime(c.SLAPausedAt),
		"sla_warned": c.SLAWarned, "sla_breached": c.SLABreached, "sla_paused_seconds": int64(c.SLAPausedFor / time.Second),
		"first_response_due_at": optTime(c.FirstResponseDueAt), "first_responded_at": optTime(c.FirstRespondedAt),
		"first_response_breached": c.FirstResponseBreached, "language": c.Language, "required_skill": c.RequiredSkill,
		"tags": strings.Join(c.Tags, " "),
	}
	db.reportFacts(r, c, now, changes)
	res := tx.Model(&caseRow{}).Where("id = ? AND version = ?", r.ID, r.Version).Updates(changes)
	if isForeignKeyViolation(res.Error) {
		return cases.Case{}, fmt.Errorf("%w: unknown department %q", cases.ErrInvalidArgument, c.Department)
	}
	if res.Error != nil {
		return cases.Case{}, res.Error
	}
	if res.RowsAffected != 1 {
		return cases.Case{}, fmt.Errorf("%w: updated concurrently", cases.ErrConflict)
	}
	if err := moveCapacity(tx, r, c); err != nil {
		return cases.Case{}, err
	}
	if c.Subject != r.Subject {
		if err := addSearchTerms(tx, c.ID, c.Subject); err != nil {
			return cases.Case{}, err
		}
	}
	if tags := strings.Join(c.Tags, " "); tags != r.Tags {
		if err := setTags(tx, c.ID, c.Tags); err != nil {
			return cases.Case{}, err
		}
	}
	rows, err := eventRows(c, evs, now)
	if err != nil {
		return cases.Case{}, err
	}
	if err := insertEvents(tx, rows, len(rows)); err != nil {
		return cases.Case{}, err
	}
	return c, nil
}

// settles reports whether entering status s starts the reopen window.
func settles(s cases.Status) bool { return s == cases.StatusResolved || s == cases.StatusClosed }

// moveCapacity keeps operators.open_cases equal to the number of open cases
// assigned to each operator. A case newly given to an operator takes a slot
// only if one is free and the operator works its department: a conditional
// UPDATE, so concurrent assigners (goroutines or replicas) cannot overfill.
func moveCapacity(tx *gorm.DB, before caseRow, after cases.Case) error {
	was := ""
	if cases.Status(before.Status).Open() {
		was = before.AssigneeID
	}
	now := ""
	if after.Status.Open() {
		now = after.Assignee
	}
	if was == now {
		return nil
	}
	if was != "" && now != "" {
		// Lock both operators in id order: two opposite reassignments
		// would otherwise deadlock on PostgreSQL.
		var locked []string
		if err := tx.Raw("SELECT id FROM operators WHERE id IN ? ORDER BY id "+forUpdate(tx), []string{was, now}).Scan(&locked).Error; err != nil {
			return err
		}
	}
	if was != "" {
		if err := tx.Exec("UPDATE operators SET open_cases = open_cases - 1 WHERE id = ? AND open_cases > 0", was).Error; err != nil {
			return err
		}
	}
	if now == "" {
		return nil
	}
	if after.Assignee == before.AssigneeID {
		// The same operator's case reopened: it is theirs, room or not.
		return tx.Exec("UPDATE operators SET open_cases = open_cases + 1 WHERE id = ?", now).Error
	}
	res := tx.Exec(`UPDATE operators SET open_cases = open_cases + 1, last_assigned_at = ?
		WHERE id = ? AND open_cases < capacity
		AND EXISTS (SELECT 1 FROM operator_departments WHERE operator_id = ? AND department_id = ?)`,
		time.Now().UTC(), now, now, after.Department)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 1 {
		return nil
	}
	var op struct{ OpenCases, Capacity int }
	if err := tx.Raw("SELECT open_cases, capacity FROM operators WHERE id = ?", now).Scan(&op).Error; err != nil {
		return err
	}
	var works int64
	tx.Model(&operatorDepartmentRow{}).Where("operator_id = ? AND department_id = ?", now, after.Department).Count(&works)
	if works == 0 {
		return fmt.Errorf("%w: %q does not work %s", cases.ErrNotInDepartment, now, after.Department)
	}
	return fmt.Errorf("%w: %q has %d open cases of %d", cases.ErrAtCapacity, now, op.OpenCases, op.Capacity)
}

// setTags replaces the case's rows in case_tags.
func setTags(tx *gorm.DB, caseID string, tags []string) error {
	if err := tx.Where("case_id = ?", caseID).Delete(&caseTagRow{}).Error; err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	rows := make([]caseTagRow, len(tags))
	for i, t := range tags {
		rows[i] = caseTagRow{CaseID: caseID, Tag: t}
	}
	return tx.Create(&rows).Error
}

// forUpdate locks the selected rows on PostgreSQL; SQLite's immediate
// transactions already hold the database's write lock.
func forUpdate(tx *gorm.DB) string {
	if tx.Dialector.Name() == "postgres" {
		return "FOR UPDATE"
	}
	return ""
}

// SLAScans names CasesDueForSLA's scans: warnings, resolution breaches
// and first-response misses still to announce.
var SLAScans = []string{"warning", "resolution", "first response"}

// CasesDueForSLA implements cases.SLAScanner with the partial indexes of
// migrations 00004 and 00009.
func (db *DB) CasesDueForSLA(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	for _, s := range SLAScans {
		var got []string
		if err := db.slaScan(db.gorm.WithContext(ctx), s, now, limit).Pluck("id", &got).Error; err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	return ids, nil
}

// slaScan selects the cases of one of SLAScans due at now. The flag and
// status conditions are literals, identical to the predicates of the
// partial indexes of migration 00012: a planner uses a partial index only
// when it can prove the query implies the index's predicate, which a bound
// parameter (or a cached generic plan) does not allow.
func (db *DB) slaScan(tx *gorm.DB, scan string, now time.Time, limit int) *gorm.DB {
	col, cond := "sla_warn_at", "sla_warned = FALSE"
	switch scan {
	case "resolution":
		col, cond = "sla_due_at", "sla_breached = FALSE"
	case "first response":
		col, cond = "first_response_due_at", "first_responded_at IS NULL AND first_response_breached = FALSE"
	}
	return tx.Model(&caseRow{}).Where(col+" <= ? AND "+cond+" AND "+runningCases, now.UTC()).
		Order(col).Limit(limit)
}

// runningCases is the partial indexes' predicate for cases whose clock
// runs: not settled (closedStatuses) nor paused.
const runningCases = "status NOT IN ('resolved', 'closed') AND sla_paused_at IS NULL"

// AutoAssign implements cases.AutoAssigner: it gives up to limit
// unassigned open cases of departments with an automatic policy, nearest
// deadline first, to the operator the policy picks among those online
// with room: round_robin, whoever was assigned longest ago; least_loaded,
// the fewest open cases. A department matching skills only considers
// operators with the case's skill and language; a sticky one prefers the
// operator who last served the same citizen there. Each case is its own
// transaction; one that cannot be placed now is left for the next round.
//
// The departments come first: each one's unassigned cases are read in
// deadline order from cases_claim_due, so a round costs the same with a
// thousand cases or a million, and nothing when every department is manual.
func (db *DB) AutoAssign(ctx context.Context, limit int) (int, error) {
	var depts []departmentRow
	if err := db.gorm.WithContext(ctx).Where("assignment_policy IN ?", []string{"round_robin", "least_loaded"}).
		Find(&depts).Error; err != nil || len(depts) == 0 {
		return 0, err
	}
	type pending struct {
		ID, DepartmentID, AssignmentPolicy, ContactID, RequiredSkill, Language string
		MatchSkills, Sticky                                                    bool
		SLADueAt                                                               time.Time
	}
	var todo []pending
	for _, d := range depts {
		var got []pending
		err := db.gorm.WithContext(ctx).Model(&caseRow{}).
			Select("id, department_id, contact_id, required_skill, language, sla_due_at").
			Where("department_id = ? AND assignee_id = '' AND status IN ?", d.ID, []string{string(cases.StatusNew), string(cases.StatusOpen)}).
			Order("sla_due_at").Order("id").Limit(limit).Scan(&got).Error
		if err != nil {
			return 0, err
		}
		for i := range got {
			got[i].AssignmentPolicy, got[i].MatchSkills, got[i].Sticky = d.AssignmentPolicy, d.MatchSkills, d.Sticky
		}
		todo = append(todo, got...)
	}
	slices.SortFunc(todo, func(a, b pending) int {
		if c := a.SLADueAt.Compare(b.SLADueAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	todo = todo[:min(len(todo), limit)]
	var err error
	n := 0
	candidates := map[string][]directory.Operator{} // by department and policy, this round
	for _, c := range todo {
		key := c.DepartmentID + "\x00" + c.AssignmentPolicy
		ops, ok := candidates[key]
		if !ok {
			if ops, err = db.availableOperators(ctx, c.DepartmentID, c.AssignmentPolicy); err != nil {
				return n, err
			}
			candidates[key] = ops
		}
		if c.MatchSkills {
			ops = slices.DeleteFunc(slices.Clone(ops), func(o directory.Operator) bool { return !o.Matches(c.RequiredSkill, c.Language) })
		}
		if len(ops) == 0 {
			continue // nobody online with room (and the skills) in this department
		}
		op, why := ops[0].ID, "assigned automatically ("+c.AssignmentPolicy+")"
		if c.Sticky {
			if last, err := db.lastServedBy(ctx, c.ContactID, c.DepartmentID, c.ID); err != nil {
				return n, err
			} else if i := slices.IndexFunc(ops, func(o directory.Operator) bool { return o.ID == last }); i >= 0 {
				op, why = last, "assigned automatically to who last served the citizen"
			}
		}
		_, err = db.UpdateCase(ctx, c.ID, 0, func(k *cases.Case) ([]cases.Event, error) {
			if k.Assignee != "" || k.Department != c.DepartmentID {
				return nil, nil // someone was quicker
			}
			return cases.Assign(cases.SystemActor, op, why)(k)
		})
		switch {
		case err == nil:
			n++
			delete(candidates, key) // loads changed: re-rank for the next case
		case errors.Is(err, cases.ErrConflict), errors.Is(err, cases.ErrAtCapacity), errors.Is(err, cases.ErrNotInDepartment):
			delete(candidates, key)
		default:
			return n, err
		}
	}
	return n, nil
}

// availableOperators lists the department's online operators with room, in
// the policy's order.
func (db *DB) availableOperators(ctx context.Context, dept, policy string) ([]directory.Operator, error) {
	order := "o.last_assigned_at, o.id" // round_robin: longest waiting first
	if policy == "least_loaded" {
		order = "o.open_cases, o.last_assigned_at, o.id"
	}
	if db.dialect == Postgres {
		order = strings.ReplaceAll(order, "o.last_assigned_at", "o.last_assigned_at NULLS FIRST")
	} // SQLite sorts NULL first already
	var rows []operatorRow
	err := db.gorm.WithContext(ctx).Raw(`SELECT o.* FROM operators o
		JOIN operator_departments od ON od.operator_id = o.id AND od.department_id = ?
		WHERE o.presence = 'online' AND o.open_cases < o.capacity
		ORDER BY `+order+` LIMIT 200`, dept).Scan(&rows).Error
	out := make([]directory.Operator, len(rows))
	for i, r := range rows {
		out[i] = r.toOperator()
	}
	return out, err
}

// lastServedBy returns the operator of the citizen's latest other case in
// dept that had one ("" if none); cases_contact (migration 00011) serves it.
func (db *DB) lastServedBy(ctx context.Context, contactID, dept, except string) (string, error) {
	var ids []string
	err := db.gorm.WithContext(ctx).Model(&caseRow{}).
		Where("contact_id = ? AND department_id = ? AND assignee_id <> '' AND id <> ?", contactID, dept, except).
		Order("id DESC").Limit(1).Pluck("assignee_id", &ids).Error
	if len(ids) == 0 {
		return "", err
	}
	return ids[0], err
}

// ClaimNextCase implements cases.Claimer. PostgreSQL picks the case with
// FOR UPDATE SKIP LOCKED, so concurrent claimers take different cases
// without waiting; SQLite's immediate transactions run one at a time.
func (db *DB) ClaimNextCase(ctx context.Context, operator string, departments []string, actor string) (cases.Case, error) {
	var (
		out cases.Case
		me  directory.Operator
	)
	matching, err := db.matchingDepartments(ctx, departments)
	if err != nil {
		return out, err
	}
	if len(matching) > 0 {
		if me, err = db.GetOperator(ctx, operator); err != nil {
			return out, err
		}
	} else if db.dialect == Postgres {
		if c, decided, err := db.claimBatched(ctx, operator, departments, actor); decided {
			return c, err
		}
	}
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var r caseRow
		err := db.claimQuery(tx, departments, matching, me).Take(&r).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return cases.ErrNothingToClaim
		}
		if err != nil {
			return err
		}
		out, err = db.apply(tx, r, cases.Assign(actor, operator, "claimed"))
		return err
	})
	return out, retryable(err)
}

// claimQuery selects the case ClaimNextCase takes: unassigned, new or
// open, nearest deadline first, then the most urgent (cases_claim_due).
func (db *DB) claimQuery(tx *gorm.DB, departments, matching []string, me directory.Operator) *gorm.DB {
	q := tx.Model(&caseRow{}).Omit("search_terms").Where("department_id IN ? AND assignee_id = '' AND status IN ?", departments,
		[]string{string(cases.StatusNew), string(cases.StatusOpen)}).
		Order("sla_due_at").Order("priority DESC").Order("id").Limit(1)
	if len(matching) > 0 {
		// In departments that match skills, only cases the operator can take.
		q = q.Where("department_id NOT IN ? OR ((required_skill = '' OR required_skill IN ?) AND language IN ?)",
			matching, append(me.Skills, ""), append(me.Languages, ""))
	}
	if db.dialect == Postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	return q
}

func isForeignKeyViolation(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "FOREIGN KEY constraint failed") || strings.Contains(err.Error(), "SQLSTATE 23503"))
}

// retryable turns PostgreSQL's deadlock and serialization aborts into
// cases.ErrConflict, which callers retry.
func retryable(err error) error {
	if err != nil && (strings.Contains(err.Error(), "SQLSTATE 40P01") || strings.Contains(err.Error(), "SQLSTATE 40001")) {
		return fmt.Errorf("%w: %v", cases.ErrConflict, err)
	}
	return err
}

// eventRows completes the events a mutation returned with what the store
// knows (ids, case, version, time) and turns them into rows.
func eventRows(c cases.Case, evs []cases.Event, now time.Time) ([]caseEventRow, error) {
	rows := make([]caseEventRow, len(evs))
	for i, e := range evs {
		changes, err := json.Marshal(e.Changes)
		if err != nil {
			return nil, err
		}
		if e.Changes == nil {
			changes = []byte("{}")
		}
		actor := e.Actor
		if actor == "" {
			actor = cases.SystemActor
		}
		rows[i] = caseEventRow{ID: uuid.Must(uuid.NewV7()).String(), CaseID: c.ID, Type: string(e.Type), Actor: actor,
			Reason: e.Reason, Changes: string(changes), DepartmentID: c.Department, CaseVersion: c.Version, CreatedAt: now}
	}
	return rows, nil
}

// insertEvents writes events and their outbox rows. On PostgreSQL one
// statement does both (a data-modifying WITH), one round trip less in
// every mutation; SQLite has no such statement.
func insertEvents(tx *gorm.DB, rows []caseEventRow, perInsert int) error {
	if len(rows) == 0 {
		return nil
	}
	if tx.Dialector.Name() == "postgres" {
		for start := 0; start < len(rows); start += perInsert {
			batch := rows[start:min(start+perInsert, len(rows))]
			var sql strings.Builder
			sql.WriteString("WITH e AS (INSERT INTO case_events (id, case_id, type, actor, reason, changes, department_id, case_version, created_at) VALUES ")
			args := make([]any, 0, 9*len(batch))
			for i, r := range batch {
				if i > 0 {
					sql.WriteString(", ")
				}
				sql.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?)")
				args = append(args, r.ID, r.CaseID, r.Type, r.Actor, r.Reason, r.Changes, r.DepartmentID, r.CaseVersion, r.CreatedAt)
			}
			sql.WriteString(" RETURNING id) INSERT INTO case_event_outbox (event_id) SELECT id FROM e")
			if err := tx.Exec(sql.String(), args...).Error; err != nil {
				return err
			}
		}
		return nil
	}
	if err := tx.CreateInBatches(rows, perInsert).Error; err != nil {
		return err
	}
	ob := make([]outboxRow, len(rows))
	for i, r := range rows {
		ob[i] = outboxRow{EventID: r.ID}
	}
	return tx.CreateInBatches(ob, perInsert).Error
}

// ListCaseEvents implements cases.History.
func (db *DB) ListCaseEvents(ctx context.Context, caseID, after string, limit int) ([]cases.Event, error) {
	if !validUUID(caseID) {
		return nil, fmt.Errorf("%w: %s", cases.ErrNotFound, caseID)
	}
	tx := db.gorm.WithContext(ctx).Where("case_id = ?", caseID)
	if after != "" {
		if !validUUID(after) {
			return nil, fmt.Errorf("%w: malformed page_token", cases.ErrInvalidArgument)
		}
		tx = tx.Where("id > ?", after)
	}
	var rows []caseEventRow
	if err := tx.Order("id").Limit(limit).Find(&rows).Error; err != nil {
		return nil, err
	}
	return toEvents(rows)
}

func toEvents(rows []caseEventRow) ([]cases.Event, error) {
	out := make([]cases.Event, len(rows))
	for i, r := range rows {
		var ch map[string]cases.Change
		if err := json.Unmarshal([]byte(r.Changes), &ch); err != nil {
			return nil, fmt.Errorf("event %s: changes: %w", r.ID, err)
		}
		out[i] = cases.Event{ID: r.ID, CaseID: r.CaseID, Type: cases.EventType(r.Type), Actor: r.Actor, Reason: r.Reason,
			Changes: ch, Department: r.DepartmentID, CaseVersion: r.CaseVersion, Time: r.CreatedAt.UTC()}
	}
	return out, nil
}

// Keys of the PostgreSQL advisory locks of the two relays.
const (
	relayLockID    int64 = 0x53504f5254454c4c // "SPORTELL": case events
	outboundLockID int64 = relayLockID + 1    // replies
)

// RelayEvents hands up to limit events waiting in the outbox, oldest
// first, to publish and removes them from the outbox only if publish
// returns nil; a crash in between publishes them again (the relay's message
// ids make that harmless). One replica relays at a time (see relay), so
// events leave in id order.
func (db *DB) RelayEvents(ctx context.Context, limit int, publish func([]cases.Event) error) (int, error) {
	return db.relay(ctx, relayLockID, func(tx *gorm.DB) (int, error) {
		rows, err := waiting(tx, limit)
		if err != nil || len(rows) == 0 {
			return 0, err
		}
		if err := publishRows(rows, publish); err != nil {
			return 0, err
		}
		return len(rows), dequeue(tx, rows)
	})
}

// relay runs one relay pass. PostgreSQL: in a transaction holding the
// transaction-scoped advisory lock lockID, so one replica relays at a time
// (the others return 0). Advisory locks are per database, so the key is
// derived from the schema too: installations (and tests) in different
// schemas of one database do not hold up each other's relays. SQLite: one process owns the file, so without a
// transaction; a write transaction held across a publish would stall
// intake for as long as JetStream takes to store the batch.
func (db *DB) relay(ctx context.Context, lockID int64, pass func(tx *gorm.DB) (int, error)) (int, error) {
	if db.dialect == SQLite {
		return pass(db.gorm.WithContext(ctx))
	}
	n := 0
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var got bool
		if err := tx.Raw("SELECT pg_try_advisory_xact_lock(hashtextextended(current_schema(), ?))", lockID).Scan(&got).Error; err != nil || !got {
			return err
		}
		var err error
		n, err = pass(tx)
		return err
	})
	return n, err
}

func waiting(tx *gorm.DB, limit int) ([]caseEventRow, error) {
	var rows []caseEventRow
	err := tx.Joins("JOIN case_event_outbox o ON o.event_id = case_events.id").
		Order("case_events.id").Limit(limit).Find(&rows).Error
	return rows, err
}

func publishRows(rows []caseEventRow, publish func([]cases.Event) error) error {
	evs, err := toEvents(rows)
	if err != nil {
		return err
	}
	return publish(evs)
}

func dequeue(tx *gorm.DB, rows []caseEventRow) error {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return tx.Where("event_id IN ?", ids).Delete(&outboxRow{}).Error
}

// RequeueEvents puts every event whose id is at or after from back in the
// outbox, for the relay to publish again; it returns how many it added.
// Event ids are UUIDv7, so "id >= from" is "created at or after from's
// time" on both engines.
func (db *DB) RequeueEvents(ctx context.Context, from string) (int, error) {
	if !validUUID(from) {
		return 0, fmt.Errorf("requeue: %q is not an event id", from)
	}
	res := db.gorm.WithContext(ctx).Exec(`INSERT INTO case_event_outbox (event_id)
		SELECT id FROM case_events WHERE id >= ? ON CONFLICT (event_id) DO NOTHING`, from)
	return int(res.RowsAffected), res.Error
}
