package blocklist

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
)

func TestStore(t *testing.T) {
	js, _, _ := natstest.Buckets(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, api.BucketBlocklist)
	if err != nil {
		t.Fatal(err)
	}
	s := New(kv)
	e, err := s.Get(ctx)
	if err != nil || e.Revision != 0 || e.List.V != api.Version || e.List.Entries == nil || len(e.List.Entries) != 0 {
		t.Fatalf("empty store: %+v %v", e, err)
	}
	// A conditional write of a list never stored conflicts.
	if _, err := s.Put(ctx, api.Blocklist{}, 7); !errors.Is(err, ErrConflict) {
		t.Fatalf("put at revision 7 of nothing: %v", err)
	}
	first, err := s.Put(ctx, api.Blocklist{Entries: []api.BlocklistEntry{{CIDR: "192.0.2.0/24", Reason: "test"}}}, 0)
	if err != nil || first.Revision == 0 || first.List.V != api.Version {
		t.Fatalf("put: %+v %v", first, err)
	}
	second, err := s.Put(ctx, api.Blocklist{Entries: []api.BlocklistEntry{{CIDR: "198.51.100.1"}}}, first.Revision)
	if err != nil || second.Revision <= first.Revision {
		t.Fatalf("conditional put: %+v %v", second, err)
	}
	if _, err := s.Put(ctx, api.Blocklist{}, first.Revision); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale put: %v", err)
	}
	e, err = s.Get(ctx)
	if err != nil || e.Revision != second.Revision || len(e.List.Entries) != 1 || e.List.Entries[0].CIDR != "198.51.100.1" {
		t.Fatalf("get: %+v %v", e, err)
	}
	// Invalid input names the field and is not stored.
	_, err = s.Put(ctx, api.Blocklist{Entries: []api.BlocklistEntry{{CIDR: "192.0.2.1"}, {CIDR: "bad"}}}, 0)
	if fes := api.AsFieldErrors(err); len(fes) != 1 || fes[0].Field != "entries[1].cidr" {
		t.Fatalf("invalid put: %v", err)
	}
	// A value that does not pass the contract is the store's fault.
	if _, err := kv.Put(ctx, api.BlocklistKey, []byte(`{"v":1,"entries":[{"cidr":"nope"}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt value: %v", err)
	}
}
