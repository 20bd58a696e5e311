// Package tlsedge terminates TLS for every site: the certificate is chosen by
// SNI from the catalog, a name the edge does not serve gets an
// unrecognized_name alert (never a default certificate), and each site's
// minimum TLS version is enforced.
package tlsedge

import (
	"crypto/tls"
	"strings"

	"github.com/rampart-edge/rampart/edgeagent/catalog"
)

// Config returns the server TLS configuration backed by cat.
func Config(cat *catalog.Catalog) *tls.Config {
	getCert := func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		c := cat.Load().Cert(strings.ToLower(hello.ServerName))
		if c == nil {
			// nil, nil with no static certificates makes crypto/tls answer
			// with an unrecognized_name alert.
			return nil, nil
		}
		return c.TLS, nil
	}
	base := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: getCert,
	}
	strict := base.Clone()
	strict.MinVersion = tls.VersionTLS13
	base.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		s := cat.Load().Site(strings.ToLower(hello.ServerName))
		if s != nil && s.MinTLS == tls.VersionTLS13 {
			return strict, nil
		}
		return nil, nil
	}
	return base
}
