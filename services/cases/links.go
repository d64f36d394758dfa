package cases

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LinkKind says how two linked cases relate.
type LinkKind string

const (
	// LinkRelated: about related matters; symmetric.
	LinkRelated LinkKind = "related"
	// LinkFollowUp: the source follows up the target (intake opens one
	// when a citizen writes again after the reopen window).
	LinkFollowUp LinkKind = "follow_up"
	// LinkDuplicate: the source duplicates the target.
	LinkDuplicate LinkKind = "duplicate"
)

// ParseLinkKind reads a link kind from the API.
func ParseLinkKind(s string) (LinkKind, error) {
	switch k := LinkKind(strings.ToLower(strings.TrimSpace(s))); k {
	case LinkRelated, LinkFollowUp, LinkDuplicate:
		return k, nil
	}
	return "", fmt.Errorf("%w: unknown link kind %q (want related, follow_up or duplicate)", ErrInvalidArgument, s)
}

// Directions of a link seen from one of its cases.
const (
	LinkOutgoing = "outgoing" // this case is the follow-up (duplicate) of the other
	LinkIncoming = "incoming" // the other case is the follow-up (duplicate) of this one
)

// Link is a link seen from one of its cases.
type Link struct {
	CaseID    string // the other case
	Kind      LinkKind
	Direction string // LinkOutgoing, LinkIncoming, or "" for related
	Actor     string
	Reason    string
	CreatedAt time.Time
}

// PairMutation changes two cases together, in place, and returns the
// events of each; it runs inside the store's transaction.
type PairMutation func(a, b *Case) (evA, evB []Event, err error)

// Links stores merges and links. services/storage implements it.
type Links interface {
	// MergeCases applies fn(source, target) and, if it returns events,
	// stores both cases (each at its next version) with the events, moves
	// the source's messages and search terms to the target, in one
	// transaction. Versions > 0 are checked first (ErrConflict).
	MergeCases(ctx context.Context, sourceID, targetID string, sourceVersion, targetVersion int64, fn PairMutation) (source, target Case, err error)
	// LinkCases stores a link from source to target (for LinkRelated the
	// order does not matter) with fn's changes and events, in one
	// transaction; a link between the two already there is
	// ErrFailedPrecondition.
	LinkCases(ctx context.Context, sourceID, targetID string, kind LinkKind, actor, reason string, fn PairMutation) (source, target Case, err error)
	// UnlinkCases removes the link between a and b, whichever its
	// direction, with the changes and events of fn(the link's kind), in
	// one transaction; ErrNotFound when there is none.
	UnlinkCases(ctx context.Context, a, b string, fn func(LinkKind) PairMutation) (Case, Case, error)
	// ListLinks returns the links of each case.
	ListLinks(ctx context.Context, caseIDs []string) (map[string][]Link, error)
}

// Merge is the PairMutation merging source into target: both of the same
// citizen, neither merged already. The source is closed.
func Merge(actor, reason string) PairMutation {
	return func(source, target *Case) ([]Event, []Event, error) {
		switch {
		case source.ID == target.ID:
			return nil, nil, fmt.Errorf("%w: a case cannot be merged into itself", ErrInvalidArgument)
		case source.ContactID != target.ContactID:
			return nil, nil, fmt.Errorf("%w: cases %s and %s belong to different citizens (contacts %s and %s); only cases of the same citizen can be merged",
				ErrFailedPrecondition, source.Reference, target.Reference, source.ContactID, target.ContactID)
		case source.MergedInto != "":
			return nil, nil, fmt.Errorf("%w: case %s was already merged into %s", ErrFailedPrecondition, source.Reference, source.MergedInto)
		case target.MergedInto != "":
			return nil, nil, fmt.Errorf("%w: case %s was merged into %s; merge into that case instead", ErrFailedPrecondition, target.Reference, target.MergedInto)
		}
		before := source.Status
		source.Status, source.MergedInto = StatusClosed, target.ID
		src := []Event{{Type: EventMerged, Actor: actor, Reason: reason, Changes: map[string]Change{
			"status": {Before: string(before), After: string(StatusClosed)}, "merged_into": {After: target.ID},
		}}}
		tgt := []Event{{Type: EventMerged, Actor: actor, Reason: reason, Changes: map[string]Change{
			"merged_from": {After: source.ID}, "merged_from_reference": {After: source.Reference},
		}}}
		return src, tgt, nil
	}
}

// LinkChange is the PairMutation recording that a and b were linked (typ
// EventLinked) or unlinked (EventUnlinked) as kind.
func LinkChange(typ EventType, actor string, kind LinkKind, reason string) PairMutation {
	return func(a, b *Case) ([]Event, []Event, error) {
		if a.ID == b.ID {
			return nil, nil, fmt.Errorf("%w: a case cannot be linked to itself", ErrInvalidArgument)
		}
		ev := func(other *Case) []Event {
			return []Event{{Type: typ, Actor: actor, Reason: reason, Changes: map[string]Change{
				"link": {After: other.ID}, "link_reference": {After: other.Reference}, "kind": {After: string(kind)},
			}}}
		}
		return ev(b), ev(a), nil
	}
}
