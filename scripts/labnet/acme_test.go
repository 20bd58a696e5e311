package labnet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
)

// logBuffer collects the lab's JSON logs for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// leafOf dials edgeAddr with SNI host, verifies the chain against roots and
// returns the leaf.
func leafOf(roots *x509.CertPool, edgeAddr, host string) (*x509.Certificate, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", edgeAddr, &tls.Config{RootCAs: roots, ServerName: host})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}

func TestLabACMEWithPebble(t *testing.T) {
	ctx := context.Background()
	logs := &logBuffer{}
	start := time.Now()
	l, err := Start(ctx, Config{Dir: t.TempDir(), HeartbeatInterval: 200 * time.Millisecond, Pebble: true,
		CertRetryMin: 50 * time.Millisecond, CertRetryMax: 200 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Logf("lab with Pebble up in %v", time.Since(start))
	t.Cleanup(func() {
		if s := logs.String(); strings.Contains(s, "PRIVATE KEY") {
			t.Error("a private key was logged")
		}
	})
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(l.RootPEM()) {
		t.Fatal("no Pebble root")
	}
	control, validator := l.Edges()[0], l.Edges()[1]
	if control.Region != l.Net.ControlRegion() || validator.Region == control.Region {
		t.Fatalf("want the challenge answered outside the control region %s, by %s", l.Net.ControlRegion(), validator.Region)
	}

	const host = "shop.rampart.test"
	site := api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: l.OriginA.URL()}}}
	status, body, err := l.API(ctx, "POST", "/sites", site)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("create site: %d %s %v", status, body, err)
	}

	var first *x509.Certificate
	t.Run("issued over HTTP-01 answered by another region's edge", func(t *testing.T) {
		issued := time.Now()
		for _, e := range l.Edges() {
			eventually(t, e.Node+" serving a Pebble certificate", 60*time.Second, func() error {
				leaf, err := leafOf(roots, e.Agent.Addr("https"), host)
				if err != nil {
					return err
				}
				first = leaf
				return nil
			})
		}
		t.Logf("issued and on every edge in %v", time.Since(issued))
		// The CA reached the edge of the second region: its access log
		// has the challenge, answered 200.
		eventually(t, "challenge in "+validator.Node+"'s access log", 10*time.Second, func() error {
			b, err := readFile(validator.cfg.AccessLog)
			if err != nil {
				return err
			}
			if !strings.Contains(b, `"action":"acme_challenge"`) || !strings.Contains(b, `"status":200`) {
				return fmt.Errorf("no answered challenge in %s", validator.cfg.AccessLog)
			}
			return nil
		})
		if b, _ := readFile(control.cfg.AccessLog); strings.Contains(b, "acme_challenge") {
			t.Errorf("the control region's edge answered a challenge: the CA should only reach %s", validator.Node)
		}
		if err := servedByHost(roots, validator, host); err != nil {
			t.Fatal(err)
		}
	})
	if first == nil {
		t.FailNow()
	}

	t.Run("forced renewal replaces it while a connection stays open", func(t *testing.T) {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, validator.Agent.Addr("https"))
			},
			TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: host},
			MaxConnsPerHost: 1,
		}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		var conns []string
		getOnce := func() (*x509.Certificate, error) {
			req, _ := http.NewRequest("GET", "https://"+host+"/keep", nil)
			req = req.WithContext(withConnTrace(req.Context(), &conns))
			resp, err := client.Do(req)
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode != 200 {
				return nil, fmt.Errorf("status %d", resp.StatusCode)
			}
			return resp.TLS.PeerCertificates[0], nil
		}
		before, err := getOnce()
		if err != nil {
			t.Fatal(err)
		}
		if status, body, err := l.API(ctx, "POST", "/sites/"+host+"/cert/renew", nil); err != nil || status != http.StatusAccepted {
			t.Fatalf("renew: %d %s %v", status, body, err)
		}
		eventually(t, "a new certificate on "+validator.Node, 60*time.Second, func() error {
			leaf, err := leafOf(roots, validator.Agent.Addr("https"), host)
			if err != nil {
				return err
			}
			if leaf.SerialNumber.Cmp(first.SerialNumber) == 0 {
				return fmt.Errorf("still serial %x", leaf.SerialNumber)
			}
			return nil
		})
		// The open connection keeps working, on the certificate it was
		// opened with; new ones get the new certificate.
		after, err := getOnce()
		if err != nil {
			t.Fatalf("the open connection broke: %v", err)
		}
		if len(conns) != 1 {
			t.Fatalf("requests used %d connections, want the one kept open", len(conns))
		}
		if after.SerialNumber.Cmp(before.SerialNumber) != 0 {
			t.Fatalf("the open connection's certificate changed")
		}
	})

	t.Run("two control instances do not issue twice", func(t *testing.T) {
		cr := l.Net.ControlRegion()
		pub, _ := api.ParseSealKey(l.sealPriv)
		second, err := controlsvc.New(controlsvc.Config{
			NATSURLs: l.Net.ClientURLs(cr), NATSUser: l.Net.ControlUser().Name, NATSPassword: l.Net.ControlUser().Password,
			DataDir: t.TempDir(), AdminAddr: "127.0.0.1:0",
			EdgeSealPublicKey: base64.StdEncoding.EncodeToString(pub.PublicKey().Bytes()),
			Buckets:           buckets.Layout{ControlRegion: cr, Regions: l.cfg.Regions, Replicas: 1},
			ACME:              l.acmeConfig(),
			Logger:            slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "controlsvc-2"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := second.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer second.Close()
		const host2 = "twice.rampart.test"
		s2 := site
		s2.Hostname = host2
		if status, body, err := l.API(ctx, "POST", "/sites", s2); err != nil || status != http.StatusCreated {
			t.Fatalf("create site: %d %s %v", status, body, err)
		}
		for _, e := range l.Edges() {
			eventually(t, e.Node+" serving "+host2, 60*time.Second, func() error {
				_, err := leafOf(roots, e.Agent.Addr("https"), host2)
				return err
			})
		}
		// Both managers saw the site: one issued, the other found the
		// certificate current once it had the lock.
		eventually(t, "both instances done with "+host2, 30*time.Second, func() error {
			s := logs.String()
			issued := countLines(s, `"msg":"certificate issued"`, `"site":"`+host2+`"`)
			current := countLines(s, `"msg":"certificate is current"`, `"site":"`+host2+`"`)
			if issued < 1 || current < 1 {
				return fmt.Errorf("issued %d, found current %d", issued, current)
			}
			return nil
		})
		s := logs.String()
		if n := countLines(s, `"msg":"acme certificate obtained"`, `"site":"`+host2+`"`); n != 1 {
			t.Fatalf("%d ACME orders for %s, want 1", n, host2)
		}
		if n := countLines(s, `"msg":"certificate issued"`, `"site":"`+host2+`"`); n != 1 {
			t.Fatalf("certificate for %s stored %d times, want 1", host2, n)
		}
	})

	t.Run("edges cannot read the account key", func(t *testing.T) {
		region := validator.Region
		edge := connectEdge(t, l, region)
		subj := api.EdgeJSAPIPrefix + ".DIRECT.GET." + api.EdgeStreamName(buckets.State)
		edge.refused(t, subj, func() error { return edge.nc.Publish(subj, nil) })
	})

	t.Run("a hostname that does not point at the edge: clear status, no order", func(t *testing.T) {
		const host3 = "elsewhere.rampart.test"
		l.Pebble.SetNXDomain(host3)
		s3 := site
		s3.Hostname = host3
		if status, body, err := l.API(ctx, "POST", "/sites", s3); err != nil || status != http.StatusCreated {
			t.Fatalf("create site: %d %s %v", status, body, err)
		}
		want := `add \"` + host3 + `. CNAME ` + host3 + `.` + EdgeZone + `.\"`
		eventually(t, "the certificate status naming the missing record", 30*time.Second, func() error {
			status, body, err := l.API(ctx, "GET", "/sites/"+host3+"/cert", nil)
			if err != nil {
				return err
			}
			if status != http.StatusNotFound || !strings.Contains(string(body), "does not point at the edge") || !strings.Contains(string(body), want) {
				return fmt.Errorf("%d %s", status, body)
			}
			return nil
		})
		if n := countLines(logs.String(), `"msg":"acme certificate obtained"`, `"site":"`+host3+`"`); n != 0 {
			t.Fatalf("%d certificates ordered for %s", n, host3)
		}
		for _, e := range l.Edges() {
			if b, _ := readFile(e.cfg.AccessLog); countLines(b, `"site":"`+host3+`"`, "acme_challenge") != 0 {
				t.Fatalf("%s was asked a challenge for %s: an order was placed", e.Node, host3)
			}
		}
	})

	t.Run("CA unreachable: backoff, the old certificate keeps serving", func(t *testing.T) {
		cur, err := leafOf(roots, validator.Agent.Addr("https"), host)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Pebble.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.Control.RenewCert(ctx, host); err != nil {
			t.Fatal(err)
		}
		eventually(t, "two failed attempts logged", 30*time.Second, func() error {
			if n := countLines(logs.String(), `"msg":"certificate reconcile failed"`, `"site":"`+host+`"`); n < 2 {
				return fmt.Errorf("%d failures logged", n)
			}
			return nil
		})
		// The site's certificate status shows the failing renewal.
		status, body, err := l.API(ctx, "GET", "/sites/"+host+"/cert", nil)
		if err != nil || status != http.StatusOK || !strings.Contains(string(body), `"state":"failing"`) || !strings.Contains(string(body), `"next_attempt"`) {
			t.Fatalf("certificate status: %d %s %v", status, body, err)
		}
		for _, e := range l.Edges() {
			leaf, err := leafOf(roots, e.Agent.Addr("https"), host)
			if err != nil {
				t.Fatalf("%s: %v", e.Node, err)
			}
			if leaf.SerialNumber.Cmp(cur.SerialNumber) != 0 {
				t.Fatalf("%s: certificate changed while the CA was down", e.Node)
			}
		}
	})
}

// countLines counts the lines that contain every one of parts.
func countLines(s string, parts ...string) int {
	n := 0
	for line := range strings.Lines(s) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// withConnTrace records each distinct connection a request uses.
func withConnTrace(ctx context.Context, conns *[]string) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		id := i.Conn.LocalAddr().String()
		if !slices.Contains(*conns, id) {
			*conns = append(*conns, id)
		}
	}})
}

func servedByHost(roots *x509.CertPool, e *Edge, host string) error {
	status, body, err := get(roots, e.Agent.Addr("https"), host, "/hello")
	if err != nil {
		return err
	}
	if status != 200 || !strings.Contains(body, "origin-a") {
		return fmt.Errorf("%s: %d %q", e.Node, status, body)
	}
	return nil
}
