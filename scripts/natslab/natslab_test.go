package natslab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
)

// start boots a super-cluster for t and shuts it down at cleanup.
func start(t *testing.T, ctx context.Context, spec Spec) *Net {
	t.Helper()
	spec.Dir = t.TempDir()
	if os.Getenv("NATS_LOG") != "" {
		spec.Logger = testLogger{t}
	}
	began := time.Now()
	n, err := Start(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d regions x %d nodes ready in %v", len(spec.Regions), len(n.Nodes(spec.Regions[0])), time.Since(began).Round(time.Millisecond))
	t.Cleanup(n.Shutdown)
	return n
}

// errorRecorder collects a connection's asynchronous errors, such as
// permission violations.
type errorRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errorRecorder) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

// find returns the first recorded error that mentions subject.
func (r *errorRecorder) find(subject string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if strings.Contains(err.Error(), subject) {
			return err
		}
	}
	return nil
}

// eventually polls cond until it returns nil or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, cond func() error) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// nextUpdate waits for a watcher update of key with value want, skipping others.
func nextUpdate(t *testing.T, ctx context.Context, w jetstream.KeyWatcher, key, want string) {
	t.Helper()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				t.Fatalf("watcher closed while waiting for %s=%s", key, want)
			}
			if e != nil && e.Key() == key && string(e.Value()) == want {
				return
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s=%s on the watcher: %v", key, want, ctx.Err())
		}
	}
}

func getValue(ctx context.Context, kv jetstream.KeyValue, key, want string) func() error {
	return func() error {
		e, err := kv.Get(ctx, key)
		if err != nil {
			return err
		}
		if got := string(e.Value()); got != want {
			return errors.New("value " + got)
		}
		return nil
	}
}

// TestSuperCluster boots 3 regions x 2 nodes from rendered configs and walks
// through the contract: control writes, edges read their region's sourced
// copy and cannot write, heartbeats and purges cross the account boundary,
// and edges keep reading with the control region gone.
func TestSuperCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	regions := []string{"nyc3", "ams3", "syd1"}
	n := start(t, ctx, Spec{Regions: regions, ControlRegion: "nyc3"})

	// Control creates the buckets and writes a site.
	control, err := n.Connect("nyc3", n.ControlUser())
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()
	js, err := jetstream.New(control)
	if err != nil {
		t.Fatal(err)
	}
	if err := buckets.Ensure(ctx, js, buckets.Layout{ControlRegion: "nyc3", Regions: regions, Replicas: 1}); err != nil {
		t.Fatalf("ensure buckets: %v", err)
	}
	sites, err := js.KeyValue(ctx, api.BucketSites)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sites.Put(ctx, "example.com", []byte("v1")); err != nil {
		t.Fatal(err)
	}

	// An edge of syd1 reads its region's copy through the imported API.
	sydErrs := &errorRecorder{}
	syd, err := n.ConnectEdge("syd1", nats.ErrorHandler(sydErrs.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer syd.Close()
	sydJS, err := jetstream.NewWithAPIPrefix(syd, api.EdgeJSAPIPrefix)
	if err != nil {
		t.Fatal(err)
	}
	sydKV, err := sydJS.KeyValue(ctx, api.RegionBucket(api.BucketSites, "syd1"))
	if err != nil {
		t.Fatalf("edge opens %s: %v", api.RegionBucket(api.BucketSites, "syd1"), err)
	}
	eventually(t, ctx, "edge syd1 gets example.com=v1", getValue(ctx, sydKV, "example.com", "v1"))

	sydWatch, err := sydKV.WatchAll(ctx)
	if err != nil {
		t.Fatalf("edge watch: %v", err)
	}
	defer sydWatch.Stop()
	nextUpdate(t, ctx, sydWatch, "example.com", "v1")
	if _, err := sites.Put(ctx, "example.com", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	nextUpdate(t, ctx, sydWatch, "example.com", "v2")

	t.Run("edge cannot write", func(t *testing.T) {
		for _, subject := range []string{"$KV.sites.x", "$KV.sites_syd1.x", api.EdgeJSAPIPrefix + ".STREAM.DELETE.KV_sites"} {
			if err := syd.Publish(subject, []byte("evil")); err != nil {
				t.Fatal(err)
			}
			eventually(t, ctx, "permission violation for "+subject, func() error {
				err := sydErrs.find(subject)
				if err == nil {
					return errors.New("no error recorded")
				}
				if !errors.Is(err, nats.ErrPermissionViolation) {
					t.Fatalf("publish to %s: %v, want a permissions violation", subject, err)
				}
				return nil
			})
		}
		if err := syd.Flush(); err != nil {
			t.Fatal(err)
		}
		// The control account sees nothing written, in the origin or the copy.
		if _, err := sites.Get(ctx, "x"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("sites x: %v, want not found", err)
		}
		copyKV, err := js.KeyValue(ctx, api.RegionBucket(api.BucketSites, "syd1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := copyKV.Get(ctx, "x"); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("sites_syd1 x: %v, want not found", err)
		}
		if _, err := js.Stream(ctx, api.EdgeStreamName(api.BucketSites)); err != nil {
			t.Errorf("stream KV_sites after the edge's delete: %v", err)
		}
		// Reading another region's copy is not allowed either.
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := sydJS.KeyValue(short, api.RegionBucket(api.BucketSites, "ams3")); err == nil {
			t.Error("edge syd1 opened sites_ams3")
		}
		if err := sydErrs.find(api.EdgeJSAPIPrefix + ".STREAM.INFO.KV_sites_ams3"); !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("edge syd1 opening sites_ams3: %v, want a permissions violation", err)
		}
	})

	t.Run("heartbeat reaches control", func(t *testing.T) {
		hb, err := control.SubscribeSync(api.SubjectHeartbeatPrefix + ".>")
		if err != nil {
			t.Fatal(err)
		}
		defer hb.Unsubscribe()
		if err := control.Flush(); err != nil {
			t.Fatal(err)
		}
		subject := api.HeartbeatSubject("syd1", "syd1-1")
		beat, _ := json.Marshal(api.Heartbeat{V: api.Version, Region: "syd1", Node: "syd1-1", Healthy: true, NATS: true})
		// Interest crosses the gateway asynchronously: beat until one arrives,
		// as a real edge does.
		eventually(t, ctx, "control receives a heartbeat", func() error {
			if err := syd.Publish(subject, beat); err != nil {
				return err
			}
			m, err := hb.NextMsg(100 * time.Millisecond)
			if err != nil {
				return err
			}
			var got api.Heartbeat
			if err := json.Unmarshal(m.Data, &got); err != nil {
				return err
			}
			if m.Subject != subject || got.Node != "syd1-1" {
				t.Fatalf("heartbeat on %s: %+v", m.Subject, got)
			}
			return nil
		})
	})

	ams, err := n.ConnectEdge("ams3")
	if err != nil {
		t.Fatal(err)
	}
	defer ams.Close()

	t.Run("purge answered by edges of two regions", func(t *testing.T) {
		for _, e := range []struct {
			nc     *nats.Conn
			region string
		}{{syd, "syd1"}, {ams, "ams3"}} {
			sub, err := e.nc.Subscribe(api.SubjectPurge, func(m *nats.Msg) {
				var p api.Purge
				if err := json.Unmarshal(m.Data, &p); err != nil {
					return
				}
				ack, _ := json.Marshal(api.PurgeAck{V: api.Version, ID: p.ID, Region: e.region, Node: e.region + "-1"})
				m.Respond(ack)
			})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := e.nc.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		inbox := control.NewRespInbox()
		replies, err := control.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		defer replies.Unsubscribe()
		req, _ := json.Marshal(api.Purge{V: api.Version, ID: "p1", Prefixes: []string{"https://example.com/"}})
		acked := map[string]bool{}
		eventually(t, ctx, "purge acks from syd1 and ams3", func() error {
			if err := control.PublishRequest(api.SubjectPurge, inbox, req); err != nil {
				return err
			}
			for {
				m, err := replies.NextMsg(100 * time.Millisecond)
				if err != nil {
					break
				}
				var ack api.PurgeAck
				if err := json.Unmarshal(m.Data, &ack); err != nil || ack.ID != "p1" {
					t.Fatalf("purge reply %q: %v", m.Data, err)
				}
				acked[ack.Region] = true
			}
			if !acked["syd1"] || !acked["ams3"] {
				return errors.New("acked by " + strings.Join(keys(acked), ","))
			}
			return nil
		})
	})

	t.Run("edges read with the control region down", func(t *testing.T) {
		amsJS, err := jetstream.NewWithAPIPrefix(ams, api.EdgeJSAPIPrefix)
		if err != nil {
			t.Fatal(err)
		}
		amsKV, err := amsJS.KeyValue(ctx, api.RegionBucket(api.BucketSites, "ams3"))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, ctx, "edge ams3 gets example.com=v2", getValue(ctx, amsKV, "example.com", "v2"))
		amsWatch, err := amsKV.WatchAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer amsWatch.Stop()
		nextUpdate(t, ctx, amsWatch, "example.com", "v2")

		if err := n.StopRegion("nyc3"); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if err := n.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("JetStream ready with nyc3 down after %v", time.Since(began).Round(time.Millisecond))

		if err := getValue(ctx, amsKV, "example.com", "v2")(); err != nil {
			t.Errorf("edge ams3 get with nyc3 down: %v", err)
		}
		fresh, err := n.ConnectEdge("ams3")
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		freshJS, err := jetstream.NewWithAPIPrefix(fresh, api.EdgeJSAPIPrefix)
		if err != nil {
			t.Fatal(err)
		}
		freshKV, err := freshJS.KeyValue(ctx, api.RegionBucket(api.BucketSites, "ams3"))
		if err != nil {
			t.Fatalf("fresh edge opens sites_ams3 with nyc3 down: %v", err)
		}
		if err := getValue(ctx, freshKV, "example.com", "v2")(); err != nil {
			t.Errorf("fresh edge get with nyc3 down: %v", err)
		}
		freshWatch, err := freshKV.WatchAll(ctx)
		if err != nil {
			t.Fatalf("fresh edge watch with nyc3 down: %v", err)
		}
		defer freshWatch.Stop()
		nextUpdate(t, ctx, freshWatch, "example.com", "v2")

		// The control region comes back; a write reaches the watcher that
		// was opened before the outage.
		if err := n.RestartRegion(ctx, "nyc3"); err != nil {
			t.Fatal(err)
		}
		eventually(t, ctx, "control writes v3 after the restart", func() error {
			_, err := sites.Put(ctx, "example.com", []byte("v3"))
			return err
		})
		written := time.Now()
		nextUpdate(t, ctx, amsWatch, "example.com", "v3")
		t.Logf("the ams3 copy caught up %v after the write", time.Since(written).Round(time.Millisecond))
	})
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// testLogger sends server logs to the test log (NATS_LOG=1).
type testLogger struct{ t *testing.T }

func (l testLogger) Noticef(format string, v ...any) { l.t.Logf("[INF] "+format, v...) }
func (l testLogger) Warnf(format string, v ...any)   { l.t.Logf("[WRN] "+format, v...) }
func (l testLogger) Fatalf(format string, v ...any)  { l.t.Logf("[FTL] "+format, v...) }
func (l testLogger) Errorf(format string, v ...any)  { l.t.Logf("[ERR] "+format, v...) }
func (l testLogger) Debugf(format string, v ...any)  { l.t.Logf("[DBG] "+format, v...) }
func (l testLogger) Tracef(format string, v ...any)  { l.t.Logf("[TRC] "+format, v...) }

var _ server.Logger = testLogger{}

func TestStartRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{"no regions", Spec{Dir: "x"}, "at least one region"},
		{"no dir", Spec{Regions: []string{"east"}}, "dir is required"},
		{"negative nodes", Spec{Regions: []string{"east"}, Dir: "x", NodesPerRegion: -1}, "nodes per region: -1"},
		{"bad region", Spec{Regions: []string{"east", "West"}, Dir: "x"}, `regions[1].name: region "West"`},
		{"unknown control region", Spec{Regions: []string{"east", "west"}, ControlRegion: "north", Dir: "x"}, `control_region: "north" is not one of the regions`},
		{"one server", Spec{Regions: []string{"east"}, NodesPerRegion: 1, Dir: "x"}, "at least 2 servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.spec.Dir != "" {
				tt.spec.Dir = t.TempDir()
			}
			n, err := Start(context.Background(), tt.spec)
			if err == nil {
				n.Shutdown()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRestartKeepsStore boots two one-node regions with pinned ports and
// monitoring, restarts the node holding the writable bucket, and checks that
// the data survived, the files are where they should be, and that Shutdown
// leaves no goroutine behind.
func TestRestartKeepsStore(t *testing.T) {
	baseline := len(liveGoroutines())
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	pinned, err := freePorts("127.0.0.1", 4)
	if err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Regions:        []string{"east", "west"},
		NodesPerRegion: 1,
		Monitoring:     true,
		Ports:          map[string]Ports{"east-1": {Client: pinned[0], Cluster: pinned[1], Gateway: pinned[2], HTTP: pinned[3]}},
	}
	n := start(t, ctx, spec)

	if got, ok := n.Region("west-1"); !ok || got != "west" {
		t.Errorf("Region(west-1) = %q, %v", got, ok)
	}
	if n.ControlRegion() != "east" {
		t.Errorf("control region defaulted to %q, want east", n.ControlRegion())
	}
	if want := "nats://127.0.0.1:" + strconv.Itoa(pinned[0]); n.ClientURL("east-1") != want {
		t.Errorf("ClientURL(east-1) = %q, want %q", n.ClientURL("east-1"), want)
	}
	path := n.ConfigPath("west-1")
	if filepath.Base(filepath.Dir(path)) != "west-1" {
		t.Errorf("config path %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	if opts, err := server.ProcessConfigFile(path); err != nil || opts.Cluster.Name != "west" {
		t.Errorf("config %s: cluster %q, %v", path, opts.Cluster.Name, err)
	}

	resp, err := http.Get(n.MonitorURL("east-1") + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	var varz struct {
		Name string `json:"server_name"`
		Port int    `json:"port"`
	}
	err = json.NewDecoder(resp.Body).Decode(&varz)
	resp.Body.Close()
	if err != nil || varz.Name != "east-1" || varz.Port != pinned[0] {
		t.Errorf("varz: %+v, %v", varz, err)
	}

	put := func() {
		nc, err := n.Connect("east", n.ControlUser())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if err := buckets.Ensure(ctx, js, buckets.Layout{ControlRegion: "east", Regions: spec.Regions, Replicas: 1}); err != nil {
			t.Fatal(err)
		}
		kv, err := js.KeyValue(ctx, api.BucketSites)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "example.com", []byte("kept")); err != nil {
			t.Fatal(err)
		}
	}
	put()

	if err := n.RestartNode(ctx, "east-1"); err != nil {
		t.Fatal(err)
	}
	nc, err := n.Connect("east", n.ControlUser())
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "example.com survives the restart", func() error {
		kv, err := js.KeyValue(ctx, api.BucketSites)
		if err != nil {
			return err
		}
		return getValue(ctx, kv, "example.com", "kept")()
	})
	nc.Close()

	if err := n.StopNode("north-1"); err == nil {
		t.Error("StopNode(north-1) succeeded")
	}
	n.Shutdown()
	n.Shutdown()
	if n.Server("east-1") != nil {
		t.Error("east-1 still running after Shutdown")
	}
	if err := n.RestartNode(ctx, "east-1"); err == nil {
		t.Error("RestartNode after Shutdown succeeded")
	}
	http.DefaultClient.CloseIdleConnections()
	eventually(t, ctx, "goroutines back to the baseline", func() error {
		if got := liveGoroutines(); len(got) > baseline {
			return fmt.Errorf("%d goroutines, %d before Start; the newest:\n%s", len(got), baseline, got[len(got)-1])
		}
		return nil
	})
}

// liveGoroutines lists the stacks of running goroutines, leaving out
// nats-server's source consumer setup: it waits out its response timeout
// (30 s) without watching for shutdown, so it may outlive the server.
func liveGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var live []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "trySetupSourceConsumer") {
			live = append(live, g)
		}
	}
	return live
}
