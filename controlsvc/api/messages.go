package api

import (
	"fmt"
	"time"
)

// CertRecord is the value of the "certs" KV bucket: a certificate chain and
// its private key, sealed so that only edges can open it.
type CertRecord struct {
	V        int    `json:"v"`
	Hostname string `json:"hostname"`
	// ChainPEM is the leaf first, then intermediates.
	ChainPEM string `json:"chain_pem"`
	// KeySealed is the PEM private key sealed with SealFor to the edge key.
	KeySealed string    `json:"key_sealed"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// MaxCertBytes bounds a CertRecord document.
const MaxCertBytes = 64 << 10

// ParseCertRecord decodes and checks a CertRecord.
func ParseCertRecord(data []byte) (CertRecord, error) {
	var c CertRecord
	if err := DecodeStrict(data, MaxCertBytes, &c); err != nil {
		return CertRecord{}, err
	}
	var errs FieldErrors
	if c.V != Version {
		errs = append(errs, &FieldError{Field: "v", Msg: fmt.Sprintf("schema version %d is not supported (want %d)", c.V, Version)})
	}
	if err := ValidateHostname(c.Hostname); err != nil {
		errs = append(errs, &FieldError{Field: "hostname", Msg: err.Error()})
	}
	if !validCertPEM(c.ChainPEM) {
		errs = append(errs, &FieldError{Field: "chain_pem", Msg: "no PEM certificate could be parsed"})
	}
	if c.KeySealed == "" {
		errs = append(errs, &FieldError{Field: "key_sealed", Msg: "required"})
	}
	if len(errs) > 0 {
		return CertRecord{}, errs
	}
	return c, nil
}

// Heartbeat is what every edge publishes on HeartbeatSubject(region, node).
type Heartbeat struct {
	V       int       `json:"v"`
	Region  string    `json:"region"`
	Node    string    `json:"node"`
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	// Healthy is false while the edge cannot serve (no snapshot and no NATS).
	Healthy bool `json:"healthy"`
	// NATS reports whether the edge's NATS connection is up.
	NATS  bool `json:"nats"`
	Sites int  `json:"sites"`
	Certs int  `json:"certs"`
	// InFlight is the number of requests being served at the time of the beat.
	InFlight int64 `json:"in_flight"`
	// Requests is the total served since the process started.
	Requests uint64 `json:"requests"`
	// HTTPSAddr and HTTPAddr are where the node serves clients.
	HTTPSAddr string `json:"https_addr,omitempty"`
	HTTPAddr  string `json:"http_addr,omitempty"`
	// Cache counts the node's cache outcomes since start; SiteCache the same
	// per site for the busiest sites (at most MaxHeartbeatSites).
	Cache     CacheCounters            `json:"cache,omitzero"`
	SiteCache map[string]CacheCounters `json:"site_cache,omitempty"`
}

// MaxHeartbeatSites bounds Heartbeat.SiteCache.
const MaxHeartbeatSites = 200

// CacheCounters count cache outcomes: Hits (fresh), Stale (served stale),
// Misses (fetched from the origin and cacheable) and Bypass (not cacheable).
type CacheCounters struct {
	Hits   uint64 `json:"hits"`
	Stale  uint64 `json:"stale"`
	Misses uint64 `json:"misses"`
	Bypass uint64 `json:"bypass"`
}

// HitRatio is (Hits+Stale) / (Hits+Stale+Misses), or 0 without traffic.
func (c CacheCounters) HitRatio() float64 {
	n := c.Hits + c.Stale + c.Misses
	if n == 0 {
		return 0
	}
	return float64(c.Hits+c.Stale) / float64(n)
}

// Purge asks every edge to drop a site's cached objects. Edges answer on the
// reply subject with a PurgeAck. Applying a purge removes what was stored
// before Time, so applying it twice (fan-out, then the durable copy after a
// reconnect) is harmless.
type Purge struct {
	V        int       `json:"v"`
	ID       string    `json:"id"`
	Hostname string    `json:"hostname"`
	Time     time.Time `json:"time"`
	// URLs are paths with an optional query, as in PurgeRequest (absolute
	// URLs reduced to their path and query).
	URLs     []string `json:"urls,omitempty"`
	Prefixes []string `json:"prefixes,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	All      bool     `json:"all,omitempty"`
}

// PurgeAck is one edge's answer to a Purge.
type PurgeAck struct {
	V       int    `json:"v"`
	ID      string `json:"id"`
	Region  string `json:"region"`
	Node    string `json:"node"`
	Removed int    `json:"removed"`
	Error   string `json:"error,omitempty"`
}

// Event is a sampled edge decision (a WAF block, an origin error) published
// on EventsSubject(region) for the dashboard.
type Event struct {
	V        int       `json:"v"`
	Time     time.Time `json:"time"`
	Region   string    `json:"region"`
	Node     string    `json:"node"`
	ReqID    string    `json:"req_id"`
	Site     string    `json:"site"`
	Action   string    `json:"action"`
	Status   int       `json:"status"`
	Method   string    `json:"method"`
	Path     string    `json:"path"`
	ClientIP string    `json:"client_ip"`
	RuleIDs  []int     `json:"rule_ids,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}
