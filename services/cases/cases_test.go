package cases

import (
	"errors"
	"testing"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in   string
		want Status
		ok   bool
	}{
		{"new", StatusNew, true}, {"STATUS_PENDING_CITIZEN", StatusPendingCitizen, true},
		{" On_Hold ", StatusOnHold, true}, {"closed", StatusClosed, true},
		{"", "", false}, {"STATUS_UNSPECIFIED", "", false}, {"deleted", "", false},
	}
	for _, tt := range tests {
		got, err := ParseStatus(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseStatus(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseStatus(%q) error is not ErrInvalidArgument", tt.in)
		}
	}
}

func TestParseOrder(t *testing.T) {
	tests := map[string]Order{"": OrderCreated, "create_time": OrderCreated, "CREATE_TIME  asc": OrderCreated,
		"create_time desc": OrderCreatedDesc, "priority desc": OrderPriority}
	for in, want := range tests {
		if got, err := ParseOrder(in); got != want || err != nil {
			t.Errorf("ParseOrder(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"priority", "subject", "create_time; DROP TABLE cases"} {
		if _, err := ParseOrder(in); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ParseOrder(%q) = %v, want ErrInvalidArgument", in, err)
		}
	}
}

func TestPageTokenRoundTripAndBinding(t *testing.T) {
	q := Query{Departments: []string{"it"}, Status: StatusNew, Order: OrderPriority}
	tok := encodePageToken(q, Case{ID: "01900000-0000-7000-8000-000000000001", Priority: PriorityHigh})
	c, err := decodePageToken(q, tok)
	if err != nil || c.ID != "01900000-0000-7000-8000-000000000001" || c.Priority != PriorityHigh {
		t.Fatalf("round trip = %+v, %v", c, err)
	}
	other := q
	other.Departments = []string{"statistics"}
	if _, err := decodePageToken(other, tok); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("token accepted for other filters: %v", err)
	}
}

func FuzzDecodePageToken(f *testing.F) {
	q := Query{Order: OrderCreated}
	f.Add(encodePageToken(q, Case{ID: "x"}))
	f.Add("")
	f.Add("eyJpIjoiIn0")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodePageToken(q, s)
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Fatalf("error %v is not ErrInvalidArgument", err)
		}
		if err == nil && s != "" && (c == nil || c.ID == "") {
			t.Fatalf("accepted %q without a cursor", s)
		}
	})
}
