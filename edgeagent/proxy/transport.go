package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

// transports keeps one connection pool per distinct origin TLS setting, so
// sites sharing an origin share its idle connections.
type transports struct {
	cfg  Config
	mu   sync.Mutex
	byID map[string]*http.Transport
}

func (t *transports) get(o *catalog.Origin) (*http.Transport, error) {
	key := o.Scheme + "\x00" + o.TLSKey
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.byID[key]; tr != nil {
		return tr, nil
	}
	tr, err := t.build(o)
	if err != nil {
		return nil, err
	}
	if t.byID == nil {
		t.byID = map[string]*http.Transport{}
	}
	t.byID[key] = tr
	return tr, nil
}

func (t *transports) build(o *catalog.Origin) (*http.Transport, error) {
	d := &net.Dialer{Timeout: t.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	if !t.cfg.AllowPrivateOrigins {
		d.Control = refusePrivate
	}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   t.cfg.DialTimeout,
		ResponseHeaderTimeout: t.cfg.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	if o.TLS != nil {
		tc := &tls.Config{ServerName: o.TLS.ServerName, InsecureSkipVerify: o.TLS.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if o.TLS.CAPEM != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(o.TLS.CAPEM)) {
				return nil, fmt.Errorf("origin %s: ca_pem holds no certificate", o.Addr)
			}
			tc.RootCAs = pool
		}
		if t.cfg.OriginClientCert != nil {
			tc.Certificates = []tls.Certificate{*t.cfg.OriginClientCert}
		}
		tr.TLSClientConfig = tc
		tr.ForceAttemptHTTP2 = true
	}
	return tr, nil
}

func (t *transports) closeIdle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.byID {
		tr.CloseIdleConnections()
	}
}

// errPrivateOrigin is returned when an origin resolves to an address the
// edge must not reach (its own admin port, the mesh, the metadata service).
var errPrivateOrigin = errors.New("origin address is not public and private origins are not allowed")

func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errPrivateOrigin, address)
	}
	a := ap.Addr().Unmap()
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() ||
		netip.MustParsePrefix("100.64.0.0/10").Contains(a) {
		return fmt.Errorf("%w: %s", errPrivateOrigin, address)
	}
	return nil
}
