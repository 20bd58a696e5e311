package labnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

// eventually polls cond until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get fetches https://host/path from one edge, verifying the chain against
// the lab CA, on a fresh connection.
func get(roots *x509.CertPool, edgeAddr, host, path string) (int, string, error) {
	resp, body, err := edgeDo(roots, edgeAddr, host, path, nil)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, body, nil
}

// edgeDo sends GET path for host to one edge — https verified with roots,
// or plain http when roots is nil — without following redirects, and reads
// the whole response.
func edgeDo(roots *x509.CertPool, edgeAddr, host, path string, hdr map[string]string) (*http.Response, string, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, edgeAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: host},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	scheme := "https"
	if roots == nil {
		scheme = "http"
	}
	req, err := http.NewRequest("GET", scheme+"://"+host+path, nil)
	if err != nil {
		return nil, "", err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func servedBy(roots *x509.CertPool, e *Edge, origin string) error {
	status, body, err := get(roots, e.Agent.Addr("https"), DemoHost, "/hello")
	if err != nil {
		return err
	}
	var echo Echo
	if status != 200 || json.Unmarshal([]byte(body), &echo) != nil || echo.Origin != origin {
		return fmt.Errorf("%s: status %d body %q", e.Node, status, body)
	}
	if echo.XRequestID == "" || echo.XForwardedProt != "https" || echo.Host != DemoHost {
		return fmt.Errorf("%s: origin saw %+v", e.Node, echo)
	}
	return nil
}

func TestLabEndToEnd(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	l, err := Start(ctx, Config{Dir: t.TempDir(), HeartbeatInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Logf("lab up in %v", time.Since(start))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(l.Control.CACertPEM())

	// Heartbeats from every region reach the control account.
	cnc, err := l.Net.Connect(l.Net.ControlRegion(), l.Net.ControlUser())
	if err != nil {
		t.Fatal(err)
	}
	defer cnc.Close()
	var hbMu sync.Mutex
	beats := map[string]api.Heartbeat{}
	sub, err := cnc.Subscribe(api.SubjectHeartbeatPrefix+".>", func(m *nats.Msg) {
		var hb api.Heartbeat
		if json.Unmarshal(m.Data, &hb) == nil {
			hbMu.Lock()
			beats[hb.Region] = hb
			hbMu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	t.Run("bad input is rejected naming the field", func(t *testing.T) {
		cases := []struct {
			body  any
			field string
		}{
			{map[string]any{"hostname": "Bad Host", "origins": []any{map[string]any{"url": "http://o.example"}}}, "hostname"},
			{map[string]any{"hostname": "ok.example.com", "origins": []any{map[string]any{"url": "ftp://o.example"}}}, "origins[0].url"},
			{map[string]any{"hostname": "ok.example.com", "origins": []any{map[string]any{"url": "http://o.example"}}, "colour": "red"}, "colour"},
		}
		for _, c := range cases {
			status, body, err := l.API(ctx, "POST", "/sites", c.body)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Field string }
			json.Unmarshal(body, &e)
			if status != 400 || e.Field != c.field {
				t.Errorf("POST %v: %d %s (want 400 naming %q)", c.body, status, body, c.field)
			}
		}
		status, body, _ := l.API(ctx, "GET", "/sites", nil)
		if status != 200 || strings.Contains(string(body), "ok.example.com") {
			t.Errorf("a rejected site was stored: %d %s", status, body)
		}
	})

	t.Run("a site created through the API is served over TLS in every region", func(t *testing.T) {
		if err := l.CreateDemoSite(ctx); err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Edges() {
			eventually(t, e.Node+" serving the demo site", 30*time.Second, func() error { return servedBy(roots, e, "origin-a") })
		}
		// Plain HTTP redirects to HTTPS by default.
		status, _, err := get(nil, l.Edges()[0].Agent.Addr("http"), DemoHost, "/x")
		if err != nil || status != http.StatusMovedPermanently {
			t.Fatalf("plain HTTP: %d %v", status, err)
		}
	})

	t.Run("the demo spec (specs/lab/demo.yaml) passes on every edge", func(t *testing.T) {
		for _, e := range l.Edges() {
			waitEdgeDNS(t, l, e)
			runLabSpecs(t, specOptions(t, l, roots, e.Region, nil), "demo.yaml")
		}
	})

	t.Run("heartbeats from every region", func(t *testing.T) {
		eventually(t, "heartbeats", 10*time.Second, func() error {
			hbMu.Lock()
			defer hbMu.Unlock()
			for _, r := range l.cfg.Regions {
				hb, ok := beats[r]
				if !ok || !hb.Healthy || hb.Sites < 1 || hb.V != api.Version {
					return fmt.Errorf("region %s: %+v", r, hb)
				}
			}
			return nil
		})
	})

	t.Run("a blocklist pushed over NATS refuses a client in every region", func(t *testing.T) {
		testBlocklist(t, ctx, l, roots)
	})

	t.Run("a purge reaches every region's cache and each edge confirms", func(t *testing.T) {
		testPurge(t, ctx, l, roots)
	})

	t.Run("a purge issued while an edge is down reaches its disk cache", func(t *testing.T) {
		testPurgeWhileDown(t, ctx, l, roots)
	})

	t.Run("an origin change propagates", func(t *testing.T) {
		s := l.DemoSite()
		s.Origins[0].URL = l.OriginB.URL()
		status, body, err := l.API(ctx, "PUT", "/sites/"+DemoHost, s)
		if err != nil || status != 200 {
			t.Fatalf("PUT: %d %s %v", status, body, err)
		}
		for _, e := range l.Edges() {
			eventually(t, e.Node+" using origin b", 30*time.Second, func() error { return servedBy(roots, e, "origin-b") })
		}
	})

	t.Run("a delete turns the site into 421", func(t *testing.T) {
		status, body, err := l.API(ctx, "DELETE", "/sites/"+DemoHost, nil)
		if err != nil || status != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s %v", status, body, err)
		}
		for _, e := range l.Edges() {
			eventually(t, e.Node+" answering 421", 30*time.Second, func() error {
				status, body, err := get(nil, e.Agent.Addr("http"), DemoHost, "/")
				if err != nil || status != http.StatusMisdirectedRequest {
					return fmt.Errorf("%d %q %v", status, body, err)
				}
				return nil
			})
		}
		// The certificate goes with the site. Wait for that before
		// re-creating it, or a slow manager could delete the old
		// certificate after the edges started serving the new site with it.
		js, err := jetstream.New(cnc)
		if err != nil {
			t.Fatal(err)
		}
		certsKV, err := js.KeyValue(ctx, api.BucketCerts)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "the demo certificate deleted", 30*time.Second, func() error {
			if _, err := certsKV.Get(ctx, DemoHost); !errors.Is(err, jetstream.ErrKeyNotFound) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
		if err := l.CreateDemoSite(ctx); err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Edges() {
			eventually(t, e.Node+" serving again", 30*time.Second, func() error { return servedBy(roots, e, "origin-a") })
		}
	})

	t.Run("edge credentials cannot write the sites or blocklist buckets", func(t *testing.T) {
		region := l.cfg.Regions[1]
		edge := connectEdge(t, l, region)
		for _, subj := range []string{"$KV." + api.BucketSites + ".evil.example.com", "$KV." + api.RegionBucket(api.BucketSites, region) + ".evil.example.com",
			"$KV." + api.BucketBlocklist + "." + api.BlocklistKey, "$KV." + api.RegionBucket(api.BucketBlocklist, region) + "." + api.BlocklistKey} {
			edge.refused(t, subj, func() error { return edge.nc.Publish(subj, []byte(`{}`)) })
		}
		// Nor read another region's inbox (its replies and watch updates).
		other := api.EdgeInbox(l.cfg.Regions[2]) + ".>"
		edge.refused(t, other, func() error { _, err := edge.nc.SubscribeSync(other); return err })
		status, body, _ := l.API(ctx, "GET", "/sites/evil.example.com", nil)
		if status != http.StatusNotFound {
			t.Fatalf("evil site exists: %d %s", status, body)
		}
	})

	t.Run("other regions keep serving without the control region", func(t *testing.T) {
		if err := l.StopControlRegion(); err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Edges()[1:] {
			for i := 0; i < 5; i++ {
				if err := servedBy(roots, e, "origin-a"); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A restarted edge in a surviving region syncs from its region's copy.
		r := l.cfg.Regions[1]
		if err := l.StopEdge(r); err != nil {
			t.Fatal(err)
		}
		if err := l.StartEdge(ctx, r); err != nil {
			t.Fatal(err)
		}
		eventually(t, "restarted edge synced from its region", 30*time.Second, func() error {
			if st := l.Edge(r).Agent.Status(); !st.Synced {
				return fmt.Errorf("%+v", st)
			}
			return servedBy(roots, l.Edge(r), "origin-a")
		})
	})

	t.Run("an edge restarted with NATS unreachable serves its snapshot", func(t *testing.T) {
		r := l.cfg.Regions[2]
		if err := l.StopEdge(r); err != nil {
			t.Fatal(err)
		}
		if err := l.Net.StopRegion(r); err != nil {
			t.Fatal(err)
		}
		if err := l.StartEdge(ctx, r); err != nil {
			t.Fatal(err)
		}
		e := l.Edge(r)
		if err := servedBy(roots, e, "origin-a"); err != nil {
			t.Fatal(err)
		}
		if st := e.Agent.Status(); st.NATS || !st.Healthy {
			t.Fatalf("status %+v", st)
		}
		// The blocklist came back from disk too.
		if err := refusedFrom(roots, e, sentinelSource); err != nil {
			t.Fatal(err)
		}
	})
}

// edgeConn is a connection with an edge user's credentials that records the
// asynchronous errors the server sends it.
type edgeConn struct {
	nc   *nats.Conn
	errs chan error
}

func connectEdge(t *testing.T, l *Lab, region string) *edgeConn {
	t.Helper()
	e := &edgeConn{errs: make(chan error, 8)}
	nc, err := l.Net.ConnectEdge(region, nats.CustomInboxPrefix(api.EdgeInbox(region)),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { e.errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e.nc = nc
	return e
}

// refused runs op and asserts the server answers with a permissions
// violation naming subject.
func (e *edgeConn) refused(t *testing.T, subject string, op func() error) {
	t.Helper()
	if err := op(); err != nil {
		t.Fatal(err)
	}
	e.nc.Flush()
	select {
	case err := <-e.errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subject) {
			t.Fatalf("%s: %v, want a permissions violation", subject, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no permission error", subject)
	}
}
