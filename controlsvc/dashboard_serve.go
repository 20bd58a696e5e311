package controlsvc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/certs"
	"github.com/rampart-edge/rampart/controlsvc/certs/onboard"
)

// dnsChecker is the onboarding checker the dashboard shows: the one that
// gates issuance, else one built from Config.DNSCheck, else nil.
func (s *Service) dnsChecker(gating certs.Checker) (*onboard.Checker, error) {
	if c, ok := gating.(*onboard.Checker); ok && c != nil {
		return c, nil
	}
	o := s.cfg.DNSCheck
	if o == nil {
		return nil, nil
	}
	var ips []netip.Addr
	for i, ip := range o.EdgeIPs {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("controlsvc config: dns_check.edge_ips[%d]: %w", i, err)
		}
		ips = append(ips, a)
	}
	return onboard.New(onboard.Config{EdgeZone: o.EdgeZone, EdgeIPs: ips, Resolver: o.Resolver})
}

// serveDashboard opens the dashboard's HTTPS listener.
func (s *Service) serveDashboard(ctx context.Context, h http.Handler) error {
	var cert tls.Certificate
	var err error
	if s.cfg.DashboardCertFile != "" {
		cert, err = tls.LoadX509KeyPair(s.cfg.DashboardCertFile, s.cfg.DashboardKeyFile)
	} else {
		var chain, key []byte
		if chain, key, err = s.ca.Issue(ctx, "localhost"); err == nil {
			cert, err = tls.X509KeyPair(chain, key)
		}
	}
	if err != nil {
		return fmt.Errorf("dashboard certificate: %w", err)
	}
	ln, err := net.Listen("tcp", s.cfg.DashboardAddr)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	host := "localhost"
	if s.cfg.DashboardCertFile != "" {
		host, _, _ = net.SplitHostPort(ln.Addr().String())
	}
	s.dashURL = "https://" + net.JoinHostPort(host, port) + "/"
	s.dash = &http.Server{
		Handler:           h,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	srv := s.dash
	s.wg.Go(func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("dashboard stopped", "action", "serve", "err", err)
		}
	})
	return nil
}

// DashboardURL is where the dashboard is served (https://localhost:port/
// with the lab CA's certificate), "" without one.
func (s *Service) DashboardURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dashURL
}
