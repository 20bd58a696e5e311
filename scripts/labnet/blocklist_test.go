package labnet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Client source addresses for the blocklist test: one blocked, one not,
// and one left blocked for the restart without NATS.
const (
	blockedSource  = "127.0.0.77"
	servedSource   = "127.0.0.78"
	sentinelSource = "127.0.0.99"
)

// getFrom fetches https://DemoHost/hello from edgeAddr on a fresh
// connection dialled from the source address src.
func getFrom(roots *x509.CertPool, src, edgeAddr string) (int, error) {
	d := &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, edgeAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: DemoHost},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + DemoHost + "/hello")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// refusedFrom checks that every edge closes connections from src (the
// request fails before any HTTP answer).
func refusedFrom(roots *x509.CertPool, e *Edge, src string) error {
	if status, err := getFrom(roots, src, e.Agent.Addr("https")); err == nil {
		return fmt.Errorf("%s served %s: %d", e.Node, src, status)
	}
	return nil
}

func servedFrom(roots *x509.CertPool, e *Edge, src string) error {
	status, err := getFrom(roots, src, e.Agent.Addr("https"))
	if err != nil || status != 200 {
		return fmt.Errorf("%s from %s: %d %v", e.Node, src, status, err)
	}
	return nil
}

func putBlocklist(t *testing.T, ctx context.Context, l *Lab, cidrs ...string) {
	t.Helper()
	doc := api.Blocklist{V: api.Version, Entries: []api.BlocklistEntry{}}
	for _, c := range cidrs {
		doc.Entries = append(doc.Entries, api.BlocklistEntry{CIDR: c, Reason: "lab test"})
	}
	status, body, err := l.API(ctx, "PUT", "/blocklist", doc)
	if err != nil || status != 200 {
		t.Fatalf("PUT /blocklist: %d %s %v", status, body, err)
	}
}

// testBlocklist pushes a CIDR covering one client address through the
// admin API: every region's edge refuses that client while another
// address is served; removing it serves the client again. It leaves
// sentinelSource blocked, for the restart without NATS.
func testBlocklist(t *testing.T, ctx context.Context, l *Lab, roots *x509.CertPool) {
	for _, e := range l.Edges() {
		if err := servedFrom(roots, e, blockedSource); err != nil {
			t.Fatalf("before the blocklist: %v", err)
		}
	}
	// Invalid input is refused naming the field.
	status, body, err := l.API(ctx, "PUT", "/blocklist", map[string]any{"v": 1, "entries": []any{map[string]any{"cidr": "127.0.0.77/8"}}})
	var eb struct{ Field string }
	json.Unmarshal(body, &eb)
	if err != nil || status != 400 || eb.Field != "entries[0].cidr" {
		t.Fatalf("bad cidr: %d %s %v", status, body, err)
	}

	putBlocklist(t, ctx, l, blockedSource+"/32")
	for _, e := range l.Edges() {
		eventually(t, e.Node+" refusing "+blockedSource, 30*time.Second, func() error { return refusedFrom(roots, e, blockedSource) })
		if err := servedFrom(roots, e, servedSource); err != nil {
			t.Fatal(err)
		}
	}
	status, body, err = l.API(ctx, "GET", "/blocklist", nil)
	if err != nil || status != 200 || !json.Valid(body) {
		t.Fatalf("GET /blocklist: %d %s %v", status, body, err)
	}

	putBlocklist(t, ctx, l, sentinelSource)
	for _, e := range l.Edges() {
		eventually(t, e.Node+" serving "+blockedSource+" again", 30*time.Second, func() error { return servedFrom(roots, e, blockedSource) })
		eventually(t, e.Node+" refusing "+sentinelSource, 30*time.Second, func() error { return refusedFrom(roots, e, sentinelSource) })
	}
}
