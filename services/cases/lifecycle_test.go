package cases

import (
	"errors"
	"strings"
	"testing"
)

func TestLifecycle(t *testing.T) {
	allowed := map[[2]Status]bool{}
	for from, tos := range transitions {
		for _, to := range tos {
			allowed[[2]Status{from, to}] = true
		}
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			c := &Case{Status: from}
			evs, err := ChangeStatus("op", to, "why")(c)
			switch {
			case from == to:
				if err != nil || len(evs) != 0 {
					t.Errorf("%s→%s: %v, %d events; want a no-op", from, to, err, len(evs))
				}
			case allowed[[2]Status{from, to}]:
				if err != nil || c.Status != to || len(evs) != 1 || evs[0].Changes["status"] != (Change{string(from), string(to)}) || evs[0].Actor != "op" {
					t.Errorf("%s→%s: %v %+v", from, to, err, evs)
				}
			default:
				if !errors.Is(err, ErrFailedPrecondition) || c.Status != from {
					t.Errorf("%s→%s: %v, want ErrFailedPrecondition and no change", from, to, err)
				}
				if err != nil && !strings.Contains(err.Error(), "allowed:") {
					t.Errorf("%s→%s: error does not name the allowed statuses: %v", from, to, err)
				}
			}
		}
	}
	// The lifecycle of the issue: new → open → pending_citizen ↔ open →
	// on_hold → resolved → closed, and reopening a resolved case.
	path := []Status{StatusOpen, StatusPendingCitizen, StatusOpen, StatusOnHold, StatusResolved, StatusOpen, StatusResolved, StatusClosed}
	c := &Case{Status: StatusNew}
	for _, s := range path {
		if _, err := ChangeStatus("op", s, "")(c); err != nil {
			t.Fatalf("→%s: %v", s, err)
		}
	}
	if len(AllowedTransitions(StatusClosed)) != 0 {
		t.Fatal("a closed case can move")
	}
}

func TestParseEtag(t *testing.T) {
	for in, want := range map[string]int64{"": 0, `W/"3"`: 3, "7": 7} {
		if got, err := parseEtag(in); got != want || err != nil {
			t.Errorf("parseEtag(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{`W/"x"`, `W/"0"`, "-1", `"`} {
		if _, err := parseEtag(in); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("parseEtag(%q) = %v", in, err)
		}
	}
}
