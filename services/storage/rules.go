package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/sportello/sportello/services/directory"
)

var _ directory.RuleStore = (*DB)(nil)

type routingRuleRow struct {
	ID           string `gorm:"primaryKey"`
	Name         string
	Position     int
	DepartmentID string
	ChannelKind  string
	ChannelID    string
	ToAddress    string
	IVRChoice    string `gorm:"column:ivr_choice"`
	Keywords     string
	Enabled      bool
	CreatedAt    time.Time
}

func (routingRuleRow) TableName() string { return "routing_rules" }

// ListRoutingRules returns the rules in the order they are tried.
func (db *DB) ListRoutingRules(ctx context.Context) ([]directory.Rule, error) {
	var rows []routingRuleRow
	if err := db.gorm.WithContext(ctx).Order("position").Order("id").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]directory.Rule, len(rows))
	for i, r := range rows {
		out[i] = r.toRule()
	}
	return out, nil
}

func (r routingRuleRow) toRule() directory.Rule {
	rule := directory.Rule{ID: r.ID, Name: r.Name, Position: r.Position, Department: r.DepartmentID, ChannelKind: r.ChannelKind,
		ChannelID: r.ChannelID, ToAddress: r.ToAddress, IVRChoice: r.IVRChoice, Enabled: r.Enabled}
	_ = json.Unmarshal([]byte(r.Keywords), &rule.Keywords)
	return rule
}

// CreateRoutingRule stores a new rule; a name already used or an unknown
// department is ErrInvalidRule.
func (db *DB) CreateRoutingRule(ctx context.Context, r directory.Rule) (directory.Rule, error) {
	r.ID = uuid.Must(uuid.NewV7()).String()
	kw, _ := json.Marshal(nonNil(r.Keywords))
	row := routingRuleRow{ID: r.ID, Name: r.Name, Position: r.Position, DepartmentID: r.Department, ChannelKind: r.ChannelKind,
		ChannelID: r.ChannelID, ToAddress: r.ToAddress, IVRChoice: r.IVRChoice, Keywords: string(kw), Enabled: r.Enabled,
		CreatedAt: time.Now().UTC()}
	err := db.gorm.WithContext(ctx).Create(&row).Error
	switch {
	case isUniqueViolation(err):
		return directory.Rule{}, fmt.Errorf("%w: a rule named %q exists", directory.ErrInvalidRule, r.Name)
	case isForeignKeyViolation(err):
		return directory.Rule{}, fmt.Errorf("%w: unknown department %q", directory.ErrInvalidRule, r.Department)
	case err != nil:
		return directory.Rule{}, err
	}
	return r, nil
}

// DeleteRoutingRule removes a rule.
func (db *DB) DeleteRoutingRule(ctx context.Context, id string) error {
	res := db.gorm.WithContext(ctx).Where("id = ?", id).Delete(&routingRuleRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: rule %s", directory.ErrNotFound, id)
	}
	return nil
}
