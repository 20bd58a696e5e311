// Command controlsvc runs the Rampart control plane: the admin API, the KV
// buckets and the certificate manager. Configure it with a JSON file
// (-config), flags, or both (flags win); see -help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rampart-edge/rampart/controlsvc"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/buckets"
)

// passwordEnv lets the NATS password stay off the command line.
const passwordEnv = "CONTROLSVC_NATS_PASSWORD"

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "controlsvc:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, level, err := loadConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Logger = log

	svc, err := controlsvc.New(cfg)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := svc.Start(ctx); err != nil {
		svc.Close()
		return err
	}
	tokenFrom := "config"
	if cfg.AdminToken == "" {
		tokenFrom = cfg.DataDir + "/" + controlsvc.TokenFile
	}
	log.Info("admin API ready", "action", "ready", "url", "http://"+svc.Addr()+"/api/v1/sites",
		"token_from", tokenFrom, "ca_cert", svc.CACertPath(), "dashboard", svc.DashboardURL())
	<-ctx.Done()
	log.Info("shutting down", "action", "stop")
	return svc.Close()
}

// fileConfig is the JSON config file; durations are Go strings ("720h").
type fileConfig struct {
	NATSURLs          []string `json:"nats_urls"`
	NATSUser          string   `json:"nats_user"`
	NATSPassword      string   `json:"nats_password"`
	DataDir           string   `json:"data_dir"`
	AdminAddr         string   `json:"admin_addr"`
	AdminToken        string   `json:"admin_token"`
	EdgeSealPublicKey string   `json:"edge_seal_public_key"`
	ControlRegion     string   `json:"control_region"`
	Regions           []string `json:"regions"`
	Replicas          int      `json:"replicas"`
	CertValidity      string   `json:"cert_validity"`
	CertCheckInterval string   `json:"cert_check_interval"`
	LogLevel          string   `json:"log_level"`
	// ACMEDirectory, when set, issues certificates over ACME instead of
	// the lab CA; ACMECARoots is a PEM file of roots for the CA's API.
	ACMEDirectory string `json:"acme_directory_url"`
	ACMEEmail     string `json:"acme_email"`
	ACMECARoots   string `json:"acme_ca_roots"`
	// Onboarding check: the hostname must CNAME to <host>.<zone> or
	// resolve only to edge IPs, asked of this resolver (system when empty).
	OnboardingEdgeZone string   `json:"onboarding_edge_zone"`
	OnboardingEdgeIPs  []string `json:"onboarding_edge_ips"`
	OnboardingResolver string   `json:"onboarding_resolver"`
	// Dashboard: the web UI and admin API over HTTPS; the certificate is
	// the lab CA's (for "localhost") unless a PEM pair is given.
	DashboardAddr     string `json:"dashboard_addr"`
	DashboardCertFile string `json:"dashboard_cert_file"`
	DashboardKeyFile  string `json:"dashboard_key_file"`
	SessionTTL        string `json:"session_ttl"`
}

const maxConfigBytes = 1 << 20

// loadConfig reads the config file named by -config, if any, then applies
// the flags that were set and the password from the environment.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (controlsvc.Config, slog.Level, error) {
	fs := flag.NewFlagSet("controlsvc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var fc fileConfig
	configPath := fs.String("config", "", "JSON config file; flags override its values")
	natsURLs := fs.String("nats-urls", "nats://127.0.0.1:4222", "comma-separated NATS URLs of the control region")
	fs.StringVar(&fc.NATSUser, "nats-user", "", "NATS user of the control account")
	fs.StringVar(&fc.NATSPassword, "nats-password", "", "NATS password (prefer $"+passwordEnv+")")
	fs.StringVar(&fc.DataDir, "data-dir", "controlsvc-data", "directory for the admin token and the lab CA")
	fs.StringVar(&fc.AdminAddr, "admin-addr", "127.0.0.1:8480", "admin API listen address (host:port, port 0 picks one)")
	fs.StringVar(&fc.AdminToken, "admin-token", "", "admin bearer token (default: generated and kept in the data dir)")
	fs.StringVar(&fc.EdgeSealPublicKey, "edge-seal-public-key", "", "edges' X25519 public key, base64")
	fs.StringVar(&fc.ControlRegion, "control-region", "", "region holding the writable buckets")
	regions := fs.String("regions", "", "comma-separated regions holding bucket copies (default: the control region)")
	fs.IntVar(&fc.Replicas, "replicas", 1, "stream replicas per bucket")
	fs.StringVar(&fc.CertValidity, "cert-validity", "720h", "lifetime of lab CA certificates")
	fs.StringVar(&fc.CertCheckInterval, "cert-check-interval", "1h", "how often certificates are checked for renewal")
	fs.StringVar(&fc.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&fc.ACMEDirectory, "acme-directory-url", "", "ACME directory URL (e.g. Let's Encrypt's staging or production); empty: the lab CA")
	fs.StringVar(&fc.ACMEEmail, "acme-email", "", "ACME account contact e-mail")
	fs.StringVar(&fc.OnboardingEdgeZone, "onboarding-edge-zone", "", "check before ordering that a hostname CNAMEs to <hostname>.<zone> (or see -onboarding-edge-ips)")
	edgeIPs := fs.String("onboarding-edge-ips", "", "comma-separated edge IPs a hostname's A/AAAA records may point to")
	fs.StringVar(&fc.OnboardingResolver, "onboarding-resolver", "", "DNS server host:port for the onboarding check (TCP; default: system resolver)")
	fs.StringVar(&fc.ACMECARoots, "acme-ca-roots", "", "PEM file of roots trusted for the ACME API (Pebble's); default: system roots")
	fs.StringVar(&fc.DashboardAddr, "dashboard-addr", "", "dashboard (HTTPS) listen address, e.g. 127.0.0.1:8443; empty: no dashboard")
	fs.StringVar(&fc.DashboardCertFile, "dashboard-cert", "", "dashboard certificate chain (PEM); default: one from the lab CA for localhost")
	fs.StringVar(&fc.DashboardKeyFile, "dashboard-key", "", "dashboard private key (PEM)")
	fs.StringVar(&fc.SessionTTL, "session-ttl", "12h", "how long a dashboard sign-in lasts")
	if err := fs.Parse(args); err != nil {
		return controlsvc.Config{}, 0, err
	}
	if fs.NArg() > 0 {
		return controlsvc.Config{}, 0, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fc.NATSURLs = splitList(*natsURLs)
	fc.Regions = splitList(*regions)
	fc.OnboardingEdgeIPs = splitList(*edgeIPs)

	if *configPath != "" {
		// The file's values replace the flags' defaults; flags given
		// explicitly win over the file.
		flagged := fc
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return controlsvc.Config{}, 0, fmt.Errorf("config: %w", err)
		}
		if err := api.DecodeStrict(data, maxConfigBytes, &fc); err != nil {
			return controlsvc.Config{}, 0, fmt.Errorf("config %s: %w", *configPath, err)
		}
		override(&fc, flagged, set)
	}
	if pw := getenv(passwordEnv); pw != "" && fc.NATSPassword == "" {
		fc.NATSPassword = pw
	}
	if len(fc.Regions) == 0 && fc.ControlRegion != "" {
		fc.Regions = []string{fc.ControlRegion}
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(fc.LogLevel)); err != nil {
		return controlsvc.Config{}, 0, fmt.Errorf("log_level: %w", err)
	}
	validity, err := time.ParseDuration(fc.CertValidity)
	if err != nil {
		return controlsvc.Config{}, 0, fmt.Errorf("cert_validity: %w", err)
	}
	interval, err := time.ParseDuration(fc.CertCheckInterval)
	if err != nil {
		return controlsvc.Config{}, 0, fmt.Errorf("cert_check_interval: %w", err)
	}
	sessionTTL, err := time.ParseDuration(fc.SessionTTL)
	if err != nil {
		return controlsvc.Config{}, 0, fmt.Errorf("session_ttl: %w", err)
	}
	cfg := controlsvc.Config{
		DashboardAddr:     fc.DashboardAddr,
		DashboardCertFile: fc.DashboardCertFile,
		DashboardKeyFile:  fc.DashboardKeyFile,
		SessionTTL:        sessionTTL,
		NATSURLs:          fc.NATSURLs,
		NATSUser:          fc.NATSUser,
		NATSPassword:      fc.NATSPassword,
		DataDir:           fc.DataDir,
		AdminAddr:         fc.AdminAddr,
		AdminToken:        fc.AdminToken,
		EdgeSealPublicKey: fc.EdgeSealPublicKey,
		Buckets:           buckets.Layout{ControlRegion: fc.ControlRegion, Regions: fc.Regions, Replicas: fc.Replicas},
		CertValidity:      validity,
		CertCheckInterval: interval,
	}
	if fc.OnboardingEdgeZone != "" || len(fc.OnboardingEdgeIPs) > 0 || fc.OnboardingResolver != "" {
		cfg.Onboarding = &controlsvc.OnboardingConfig{EdgeZone: fc.OnboardingEdgeZone, EdgeIPs: fc.OnboardingEdgeIPs, Resolver: fc.OnboardingResolver}
	}
	if fc.ACMEDirectory != "" {
		cfg.ACME = &controlsvc.ACMEConfig{DirectoryURL: fc.ACMEDirectory, Email: fc.ACMEEmail}
		if fc.ACMECARoots != "" {
			pemBytes, err := os.ReadFile(fc.ACMECARoots)
			if err != nil {
				return controlsvc.Config{}, 0, fmt.Errorf("acme_ca_roots: %w", err)
			}
			cfg.ACME.CARootsPEM = pemBytes
		}
	}
	if err := cfg.Validate(); err != nil {
		return controlsvc.Config{}, 0, err
	}
	return cfg, level, nil
}

// override copies into fc the flags that were set on the command line.
func override(fc *fileConfig, flagged fileConfig, set map[string]bool) {
	for name, apply := range map[string]func(){
		"nats-urls":            func() { fc.NATSURLs = flagged.NATSURLs },
		"nats-user":            func() { fc.NATSUser = flagged.NATSUser },
		"nats-password":        func() { fc.NATSPassword = flagged.NATSPassword },
		"data-dir":             func() { fc.DataDir = flagged.DataDir },
		"admin-addr":           func() { fc.AdminAddr = flagged.AdminAddr },
		"admin-token":          func() { fc.AdminToken = flagged.AdminToken },
		"edge-seal-public-key": func() { fc.EdgeSealPublicKey = flagged.EdgeSealPublicKey },
		"control-region":       func() { fc.ControlRegion = flagged.ControlRegion },
		"regions":              func() { fc.Regions = flagged.Regions },
		"replicas":             func() { fc.Replicas = flagged.Replicas },
		"cert-validity":        func() { fc.CertValidity = flagged.CertValidity },
		"cert-check-interval":  func() { fc.CertCheckInterval = flagged.CertCheckInterval },
		"log-level":            func() { fc.LogLevel = flagged.LogLevel },
		"acme-directory-url":   func() { fc.ACMEDirectory = flagged.ACMEDirectory },
		"acme-email":           func() { fc.ACMEEmail = flagged.ACMEEmail },
		"acme-ca-roots":        func() { fc.ACMECARoots = flagged.ACMECARoots },
		"onboarding-edge-zone": func() { fc.OnboardingEdgeZone = flagged.OnboardingEdgeZone },
		"onboarding-edge-ips":  func() { fc.OnboardingEdgeIPs = flagged.OnboardingEdgeIPs },
		"onboarding-resolver":  func() { fc.OnboardingResolver = flagged.OnboardingResolver },
		"dashboard-addr":       func() { fc.DashboardAddr = flagged.DashboardAddr },
		"dashboard-cert":       func() { fc.DashboardCertFile = flagged.DashboardCertFile },
		"dashboard-key":        func() { fc.DashboardKeyFile = flagged.DashboardKeyFile },
		"session-ttl":          func() { fc.SessionTTL = flagged.SessionTTL },
	} {
		if set[name] {
			apply()
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
