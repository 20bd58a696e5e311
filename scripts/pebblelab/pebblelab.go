// Package pebblelab runs Let's Encrypt's test CA, Pebble, in process for
// the lab and the end-to-end tests: its ACME API over TLS on 127.0.0.1, and
// a small DNS server (TCP, which Pebble's validator uses) that answers every
// name with one address — the edge the CA should reach for HTTP-01.
package pebblelab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Config says where Pebble listens and whom it validates.
type Config struct {
	// APIAddr is the ACME API's host:port; "127.0.0.1:0" when empty.
	APIAddr string
	// HTTPPort is the port Pebble's validator connects to for HTTP-01:
	// the edges' plain HTTP port.
	HTTPPort int
	// EdgeIP is the address the DNS server answers every name with.
	EdgeIP string
	// Log receives Pebble's log; discarded when nil.
	Log io.Writer
}

// Pebble is a running CA.
type Pebble struct {
	api    *httptest.Server
	dns    *dns.Server
	ca     *ca.CAImpl
	edgeIP string
	mu     sync.Mutex
	closed bool
	nxMu   sync.Mutex
	nx     map[string]bool // names answered NXDOMAIN
}

// Environment Pebble reads when it starts: no random sleep before a
// validation, no deliberately rejected nonces.
var pebbleEnv = map[string]string{"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}

// Start boots Pebble. It sets PEBBLE_VA_NOSLEEP and PEBBLE_WFE_NONCEREJECT
// in the process environment when they are unset (Pebble only reads its
// settings from there).
func Start(cfg Config) (*Pebble, error) {
	if cfg.HTTPPort <= 0 || net.ParseIP(cfg.EdgeIP) == nil {
		return nil, fmt.Errorf("pebble: need the edge's HTTP port and IP (got %d, %q)", cfg.HTTPPort, cfg.EdgeIP)
	}
	for k, v := range pebbleEnv {
		if _, set := os.LookupEnv(k); !set {
			os.Setenv(k, v)
		}
	}
	out := cfg.Log
	if out == nil {
		out = io.Discard
	}
	logger := log.New(out, "pebble ", log.LstdFlags)
	p := &Pebble{nx: map[string]bool{}, edgeIP: cfg.EdgeIP}

	dnsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("pebble dns: %w", err)
	}
	started := make(chan struct{})
	p.dns = &dns.Server{Listener: dnsLn, Handler: dns.HandlerFunc(p.answer), NotifyStartedFunc: func() { close(started) }}
	go p.dns.ActivateAndServe()
	<-started

	store := db.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, cfg.HTTPPort, 0, false, dnsLn.Addr().String(), store)
	front := wfe.New(logger, store, validator, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	addr := cfg.APIAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		p.dns.Shutdown()
		return nil, fmt.Errorf("pebble api: %w", err)
	}
	p.api = httptest.NewUnstartedServer(front.Handler())
	p.api.Listener.Close()
	p.api.Listener = ln
	p.api.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.api.StartTLS()
	return p, nil
}

// answer gives every A question the edge's address; other types get an
// empty answer.
func (p *Pebble) answer(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	ip := net.ParseIP(p.edgeIP).To4()
	p.nxMu.Lock()
	for _, q := range r.Question {
		if p.nx[strings.ToLower(strings.TrimSuffix(q.Name, "."))] {
			m.Rcode = dns.RcodeNameError
			ip = nil
		}
	}
	p.nxMu.Unlock()
	for _, q := range r.Question {
		if q.Qtype == dns.TypeA && ip != nil {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: ip})
		}
	}
	w.WriteMsg(m)
}

// SetNXDomain makes name not resolve: a customer hostname that does not
// point at the edge.
func (p *Pebble) SetNXDomain(name string) {
	p.nxMu.Lock()
	defer p.nxMu.Unlock()
	p.nx[strings.ToLower(name)] = true
}

// DNSAddr is the DNS server's address (TCP): every name resolves to the
// edge, but those given to SetNXDomain.
func (p *Pebble) DNSAddr() string { return p.dns.Listener.Addr().String() }

// DirectoryURL is the ACME directory.
func (p *Pebble) DirectoryURL() string { return p.api.URL + wfe.DirectoryPath }

// APICertPEM is the certificate of the ACME API; ACME clients trust it.
func (p *Pebble) APICertPEM() []byte {
	c := p.api.Certificate()
	return pemCert(c.Raw)
}

// RootPEM is the root the issued certificates chain to; HTTPS clients of
// the edges trust it.
func (p *Pebble) RootPEM() []byte { return p.ca.GetRootCert(0).PEM() }

// Close stops the API and the DNS server.
func (p *Pebble) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.api.CloseClientConnections()
	p.api.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.dns.ShutdownContext(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("pebble dns: %w", err)
	}
	return nil
}
