package console

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"

	directoryv1 "github.com/sportello/sportello/api/sportello/directory/v1"
)

// flakyDirectory answers the names, or fails while down; it counts reads.
type flakyDirectory struct {
	directoryv1.DirectoryServiceClient
	down  bool
	reads int
}

func (d *flakyDirectory) ListDepartments(ctx context.Context, _ *directoryv1.ListDepartmentsRequest, _ ...grpc.CallOption) (*directoryv1.ListDepartmentsResponse, error) {
	d.reads++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d.down {
		return nil, errors.New("directory down")
	}
	return &directoryv1.ListDepartmentsResponse{Departments: []*directoryv1.Department{{Id: "it", Name: "Informatica"}}}, nil
}

func (d *flakyDirectory) ListOperators(ctx context.Context, _ *directoryv1.ListOperatorsRequest, _ ...grpc.CallOption) (*directoryv1.ListOperatorsResponse, error) {
	return &directoryv1.ListOperatorsResponse{Operators: []*directoryv1.Operator{{Id: "op-1", DisplayName: "Anna"}, {Id: "op-2"}}}, nil
}

// TestNamesBackOff: a failed read is not repeated by every page for
// namesMinAge; an operator known without a display name does not force
// re-reads; a cancelled request does not count as the directory failing.
func TestNamesBackOff(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	dir := &flakyDirectory{down: true}
	c := &Console{now: func() time.Time { return now }}
	cl := &clients{directory: dir}
	ctx := context.Background()

	for range 3 {
		if l := c.namesWith(ctx, cl, nil); l.Dept("it") != "it" {
			t.Fatalf("names while the directory is down: %q", l.Dept("it"))
		}
	}
	if dir.reads != 1 {
		t.Fatalf("%d reads of a failing directory within namesMinAge, want 1", dir.reads)
	}
	dir.down = false
	now = now.Add(namesMinAge)
	if l := c.namesWith(ctx, cl, nil); l.Dept("it") != "Informatica" || l.Op("op-1") != "Anna" || l.Op("op-2") != "op-2" {
		t.Fatalf("names after the directory is back: %q %q %q", l.Dept("it"), l.Op("op-1"), l.Op("op-2"))
	}
	reads := dir.reads
	now = now.Add(5 * time.Second)
	c.namesWith(ctx, cl, []string{"op-2"})
	if dir.reads != reads {
		t.Fatal("an operator known without a display name forced a re-read")
	}
	// A page whose client went away still reads the names for the next.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	now = now.Add(namesTTL)
	failed := c.dir.failed
	c.namesWith(cancelled, cl, nil)
	if !c.dir.failed.Equal(failed) || c.dir.at != now {
		t.Fatal("a cancelled request counted as the directory failing")
	}
}
