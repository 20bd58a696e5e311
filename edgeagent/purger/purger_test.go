package purger

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/internal/natstest"
)

func startNATS(t *testing.T) *server.Server { return natstest.Start(t) }

type applied struct {
	id     string
	before time.Time
}

// recorder is the cache side: it records each application.
type recorder struct {
	mu  sync.Mutex
	got []applied
}

func (r *recorder) apply(p api.Purge, before time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, applied{p.ID, before})
	return 7
}

func (r *recorder) list() []applied {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]applied(nil), r.got...)
}

func purgeJSON(id string, at time.Time) []byte {
	b, _ := json.Marshal(api.Purge{V: api.Version, ID: id, Hostname: "www.example.com", Time: at, URLs: []string{"/a"}})
	return b
}

// A purge stored while the edge was away is applied as of its issue time
// when the watcher starts; a live one is applied once, acknowledged with
// the count, whichever delivery came first.
func TestPurgerAppliesStoredAndLivePurges(t *testing.T) {
	s := startNATS(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: api.RegionBucket(api.BucketPurges, "lab")})
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	if _, err := kv.Put(ctx, "old", purgeJSON("old", issued)); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	synced := make(chan int, 1)
	pg := New(Config{Conn: nc, Region: "lab", Node: "n1", Apply: rec.apply, Now: func() time.Time { return now },
		Synced: func() { synced <- len(rec.list()) },
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)), Retry: 50 * time.Millisecond})
	done := make(chan struct{})
	go func() { pg.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.list()) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := rec.list()
	if len(got) != 1 || got[0].id != "old" || !got[0].before.Equal(issued) {
		t.Fatalf("stored purge applied as %+v, want once as of its issue time %v", got, issued)
	}
	select {
	case n := <-synced:
		if n != 1 {
			t.Fatalf("Synced called after %d applications, want after the stored one", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Synced not called after the initial replay")
	}

	// Live: written to the bucket and sent as a request, like controlsvc.
	if _, err := kv.Put(ctx, "new", purgeJSON("new", now)); err != nil {
		t.Fatal(err)
	}
	var ack api.PurgeAck
	m, err := nc.Request(api.SubjectPurge, purgeJSON("new", now), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		t.Fatal(err)
	}
	if ack.ID != "new" || ack.Region != "lab" || ack.Node != "n1" || ack.Removed != 7 || ack.Error != "" {
		t.Fatalf("ack %+v", ack)
	}
	// Applied once, although it arrives twice (the watcher sees the KV
	// write too; give it the time to).
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, a := range rec.list() {
		if a.id == "new" {
			n++
			if !a.before.Equal(now) {
				t.Errorf("live purge applied as of %v, want now (%v)", a.before, now)
			}
		}
	}
	if n != 1 {
		t.Fatalf("live purge applied %d times, want once: %+v", n, rec.list())
	}

	// A malformed purge is answered with the error.
	m, err = nc.Request(api.SubjectPurge, []byte(`{"v":1,"id":"x"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var bad api.PurgeAck
	json.Unmarshal(m.Data, &bad)
	if bad.Error == "" {
		t.Fatalf("malformed purge acked without an error: %+v", bad)
	}
	cancel()
	<-done
}
