package storage

import "time"

// Table rows. Field names map to the columns of migrations/*; the schema is
// owned by the migrations, never by AutoMigrate.

type departmentRow struct {
	ID               string `gorm:"primaryKey"`
	Name             string
	AssignmentPolicy string
	MatchSkills      bool
	Sticky           bool
	WorkingHours     string // JSON []sla.DayHours; "" for the default calendar
	CreatedAt        time.Time
}

func (departmentRow) TableName() string { return "departments" }

type categoryRow struct {
	Code            string `gorm:"primaryKey"`
	Name            string
	Description     string
	DepartmentID    string
	DefaultPriority int
	Skill           string
	CreatedAt       time.Time
}

func (categoryRow) TableName() string { return "categories" }

type contactRow struct {
	ID          string `gorm:"primaryKey"`
	DisplayName string
	Email       *string
	Phone       *string
	FiscalCode  *string
	CreatedAt   time.Time
}

func (contactRow) TableName() string { return "contacts" }

type contactHandleRow struct {
	ChannelKind string `gorm:"primaryKey"`
	Handle      string `gorm:"primaryKey"`
	ContactID   string
	CreatedAt   time.Time
}

func (contactHandleRow) TableName() string { return "contact_handles" }

type caseLinkRow struct {
	SourceID  string `gorm:"primaryKey"`
	TargetID  string `gorm:"primaryKey"`
	Kind      string
	Actor     string
	Reason    string
	CreatedAt time.Time
}

func (caseLinkRow) TableName() string { return "case_links" }

type caseRow struct {
	ID                    string `gorm:"primaryKey"`
	Reference             string
	Subject               string
	Description           string
	Status                string
	Priority              int
	CategoryCode          string
	DepartmentID          string
	AssigneeID            string
	ChannelKind           string
	ChannelID             string
	ContactID             string
	CreatedAt             time.Time
	UpdatedAt             time.Time
	Version               int64
	SLADueAt              time.Time  `gorm:"column:sla_due_at"`
	SLAWarnAt             *time.Time `gorm:"column:sla_warn_at"`
	SLAPausedAt           *time.Time `gorm:"column:sla_paused_at"`
	SLAPausedSec          int64      `gorm:"column:sla_paused_seconds"`
	SLAWarned             bool       `gorm:"column:sla_warned"`
	SLABreached           bool       `gorm:"column:sla_breached"`
	FirstResponseDueAt    *time.Time
	FirstRespondedAt      *time.Time
	FirstResponseBreached bool
	Tags                  string // sorted, space-separated
	Language              string
	RequiredSkill         string
	SettledAt             *time.Time
	MergedInto            *string
	ThreadSubject         string
	// Written on create, never read back with the case.
	SearchTerms string `gorm:"column:search_terms;->:false;<-:create"`
}

func (caseRow) TableName() string { return "cases" }

type caseTagRow struct {
	CaseID string `gorm:"primaryKey"`
	Tag    string `gorm:"primaryKey"`
}

func (caseTagRow) TableName() string { return "case_tags" }

type slaPolicyRow struct {
	DepartmentID         string `gorm:"primaryKey"`
	Priority             int    `gorm:"primaryKey"`
	ResolutionMinutes    int
	FirstResponseMinutes int
}

func (slaPolicyRow) TableName() string { return "sla_policies" }

type messageRow struct {
	ID               string `gorm:"primaryKey"`
	CaseID           string
	Direction        string
	ChannelKind      string
	ChannelID        string
	ExternalID       *string // nil until the channel gives one
	InboundID        string
	AuthorName       string
	AuthorEmail      string
	BodyText         string
	ReceivedAt       time.Time
	CreatedAt        time.Time
	DeliveryStatus   string
	DeliveryError    string
	DeliveryAttempts int
	Kind             string
	// Template is the message template the message was sent as, JSON;
	// "" for free text.
	Template string
}

func (messageRow) TableName() string { return "messages" }

// messagePartRow is one provider message an outbound message went out as.
type messagePartRow struct {
	MessageID  string `gorm:"primaryKey"`
	Part       int    `gorm:"primaryKey;autoIncrement:false"`
	ExternalID string
	Status     string
	Error      string
	UpdatedAt  time.Time
}

func (messagePartRow) TableName() string { return "message_parts" }

type caseEventRow struct {
	ID           string `gorm:"primaryKey"`
	CaseID       string
	Type         string
	Actor        string
	Reason       string
	Changes      string
	DepartmentID string
	CaseVersion  int64
	CreatedAt    time.Time
}

func (caseEventRow) TableName() string { return "case_events" }

type outboxRow struct {
	EventID string `gorm:"primaryKey"`
}

func (outboxRow) TableName() string { return "case_event_outbox" }

type attachmentRow struct {
	ID          string `gorm:"primaryKey"`
	CaseID      string
	MessageID   *string // nil until attached
	SHA256      string  `gorm:"column:sha256"`
	Size        int64
	ContentType string
	FileName    string
	UploadedBy  string
	CreatedAt   time.Time
}

func (attachmentRow) TableName() string { return "attachments" }
