// Package zoneimport turns an existing DNS zone (a BIND master file or a
// DNS provider's JSON export) into what a move onto the edge needs: a site
// configuration for every proxied hostname, the DNS records for the rest
// (with the proxied names pointed at the edge), and an edge spec asserting
// every imported record — a suite that starts red and turns green as the
// sites move.
package zoneimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/spec"
)

// ParseBIND reads a master file with miekg/dns's ZoneParser. origin is the
// zone's name (for relative names; may be "" when the file sets $ORIGIN).
// Errors name the file and line.
func ParseBIND(r io.Reader, filename, origin string) ([]dns.RR, error) {
	if origin != "" {
		origin = dns.Fqdn(origin)
	}
	zp := dns.NewZoneParser(r, origin, filename)
	zp.SetIncludeAllowed(false)
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("import %s: %w", filename, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("import %s: no records", filename)
	}
	return out, nil
}

// providerRecord is one record of a DNS provider's JSON export
// (Cloudflare's format: GET /zones/{id}/dns_records, or its "result").
type providerRecord struct {
	Type     string          `json:"type"`
	Name     string          `json:"name"`
	Content  string          `json:"content"`
	TTL      int             `json:"ttl"`
	Proxied  bool            `json:"proxied"`
	Priority *int            `json:"priority"`
	Data     json.RawMessage `json:"data"`
}

// ParseProviderJSON reads a JSON export: a list of
// {type,name,content,ttl,proxied,priority}, or an object whose "result" is
// that list. It returns the records and the proxied hostnames. A TTL of 1
// ("automatic") becomes 300.
func ParseProviderJSON(r io.Reader, filename string) ([]dns.RR, []string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("import %s: %w", filename, err)
	}
	var list []providerRecord
	if err := json.Unmarshal(data, &list); err != nil {
		var wrapped struct {
			Result []providerRecord `json:"result"`
		}
		if err2 := json.Unmarshal(data, &wrapped); err2 != nil || wrapped.Result == nil {
			return nil, nil, fmt.Errorf("import %s:%d: %v", filename, jsonErrLine(data, err), err)
		}
		list = wrapped.Result
	}
	var rrs []dns.RR
	var proxied []string
	for i, rec := range list {
		rr, err := rec.toRR()
		if err != nil {
			return nil, nil, fmt.Errorf("import %s: record %d (%s %s): %w", filename, i, rec.Type, rec.Name, err)
		}
		rrs = append(rrs, rr)
		if rec.Proxied {
			switch rr.Header().Rrtype {
			case dns.TypeA, dns.TypeAAAA, dns.TypeCNAME:
				proxied = append(proxied, strings.TrimSuffix(strings.ToLower(rr.Header().Name), "."))
			default:
				return nil, nil, fmt.Errorf("import %s: record %d (%s %s): only A, AAAA and CNAME records can be proxied", filename, i, rec.Type, rec.Name)
			}
		}
	}
	if len(rrs) == 0 {
		return nil, nil, fmt.Errorf("import %s: no records", filename)
	}
	return rrs, dedupe(proxied), nil
}

func jsonErrLine(data []byte, err error) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(0)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	return 1 + strings.Count(string(data[:min(int(off), len(data))]), "\n")
}

func (rec providerRecord) toRR() (dns.RR, error) {
	typ := strings.ToUpper(rec.Type)
	if _, ok := dns.StringToType[typ]; !ok {
		return nil, fmt.Errorf("unknown type %q", rec.Type)
	}
	if rec.Name == "" {
		return nil, errors.New("name is required")
	}
	ttl := rec.TTL
	if ttl <= 1 {
		ttl = 300 // 1 is the provider's "automatic"
	}
	content := strings.TrimSpace(rec.Content)
	switch typ {
	case "CNAME", "NS", "PTR":
		content = dns.Fqdn(content)
	case "MX":
		if rec.Priority == nil {
			return nil, errors.New("MX without priority")
		}
		content = strconv.Itoa(*rec.Priority) + " " + dns.Fqdn(content)
	case "SRV":
		f := strings.Fields(content)
		if len(f) == 3 && rec.Priority != nil {
			f = append([]string{strconv.Itoa(*rec.Priority)}, f...)
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("SRV content %q: want \"[priority] weight port target\"", rec.Content)
		}
		f[3] = dns.Fqdn(f[3])
		content = strings.Join(f, " ")
	case "TXT", "SPF":
		if !strings.HasPrefix(content, `"`) {
			content = quoteTXT(rec.Content)
		}
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(rec.Name), ttl, typ, content))
	if err != nil {
		return nil, err
	}
	if rr == nil {
		return nil, errors.New("empty record")
	}
	return rr, nil
}

// quoteTXT quotes a TXT value in presentation format, split into strings of
// at most 255 bytes.
func quoteTXT(s string) string {
	var parts []string
	for len(s) > 0 {
		n := min(len(s), 255)
		parts = append(parts, `"`+strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s[:n])+`"`)
		s = s[n:]
	}
	if len(parts) == 0 {
		return `""`
	}
	return strings.Join(parts, " ")
}

// Options shape what Build produces.
type Options struct {
	// Proxied are the hostnames to put behind the edge (their A, AAAA or
	// CNAME records become the site's origins).
	Proxied []string
	// EdgeZone, when set, points each proxied name at the edge with a
	// CNAME to <host>.<EdgeZone>; a name that cannot hold a CNAME (the zone
	// apex, or one with other records) gets A/AAAA records of EdgeIPs.
	EdgeZone string
	EdgeIPs  []string
	// OriginScheme is "https" (default) or "http".
	OriginScheme string
	// Nameserver is what the spec's DNS checks ask: an alias to give at run
	// time (default "authoritative") or host:port.
	Nameserver string
}

// Result is the import.
type Result struct {
	Sites []api.Site
	// Records are the zone's records minus the proxied names' address
	// records, plus the records pointing those names at the edge.
	Records []dns.RR
	Spec    *spec.File
}

// Build produces the sites, records and spec for an imported zone.
func Build(records []dns.RR, opts Options) (*Result, error) {
	if opts.OriginScheme == "" {
		opts.OriginScheme = "https"
	}
	if opts.OriginScheme != "https" && opts.OriginScheme != "http" {
		return nil, fmt.Errorf("origin scheme %q: want http or https", opts.OriginScheme)
	}
	if opts.Nameserver == "" {
		opts.Nameserver = "authoritative"
	}
	byName := map[string][]dns.RR{}
	for _, rr := range records {
		n := strings.ToLower(rr.Header().Name)
		byName[n] = append(byName[n], rr)
	}
	proxied := map[string]bool{}
	for _, h := range opts.Proxied {
		proxied[dns.Fqdn(strings.ToLower(strings.TrimSpace(h)))] = true
	}
	res := &Result{Spec: &spec.File{}}
	var zone string
	for _, rr := range records {
		if rr.Header().Rrtype == dns.TypeSOA {
			zone = rr.Header().Name
			break
		}
	}
	res.Spec.Name = "imported zone " + strings.TrimSuffix(zone, ".")
	if zone == "" {
		res.Spec.Name = "imported records"
	}

	for _, name := range sortedKeys(proxied) {
		site, pointer, err := proxy(name, byName[name], opts)
		if err != nil {
			return nil, err
		}
		res.Sites = append(res.Sites, site)
		res.Records = append(res.Records, pointer...)
		res.Spec.Checks = append(res.Spec.Checks, siteChecks(site.Hostname, pointer, opts)...)
	}
	for _, rr := range records {
		n := strings.ToLower(rr.Header().Name)
		if proxied[n] && isAddress(rr) {
			continue
		}
		res.Records = append(res.Records, rr)
	}
	sortRecords(res.Records)
	res.Spec.Checks = append(res.Spec.Checks, recordChecks(records, proxied, opts)...)
	if err := res.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("generated spec: %w", err)
	}
	return res, nil
}

func isAddress(rr dns.RR) bool {
	t := rr.Header().Rrtype
	return t == dns.TypeA || t == dns.TypeAAAA || t == dns.TypeCNAME
}

// proxy builds the site of a proxied name and the records that point the
// name at the edge.
func proxy(name string, rrs []dns.RR, opts Options) (api.Site, []dns.RR, error) {
	host := strings.TrimSuffix(name, ".")
	site := api.Site{V: api.Version, Hostname: host}
	others := false
	ttl := uint32(300)
	for _, rr := range rrs {
		var target string
		switch v := rr.(type) {
		case *dns.A:
			target = v.A.String()
		case *dns.AAAA:
			target = "[" + v.AAAA.String() + "]"
		case *dns.CNAME:
			target = strings.TrimSuffix(v.Target, ".")
		default:
			others = true
			continue
		}
		ttl = min(ttl, rr.Header().Ttl)
		o := api.Origin{URL: opts.OriginScheme + "://" + target}
		if opts.OriginScheme == "https" {
			// The origin's certificate is for the site's name, whatever
			// address or alias reaches it.
			o.TLS.ServerName = host
		}
		site.Origins = append(site.Origins, o)
	}
	if len(site.Origins) == 0 {
		return site, nil, fmt.Errorf("proxied host %s has no A, AAAA or CNAME record to use as its origin", host)
	}
	if err := site.Validate(); err != nil {
		return site, nil, fmt.Errorf("site %s: %w", host, err)
	}
	if opts.EdgeZone == "" {
		return site, nil, nil
	}
	if !others {
		c := &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
			Target: dns.Fqdn(host + "." + strings.Trim(opts.EdgeZone, "."))}
		return site, []dns.RR{c}, nil
	}
	if len(opts.EdgeIPs) == 0 {
		return site, nil, fmt.Errorf("proxied host %s has other records (the zone apex?), so it cannot be a CNAME to the edge: give the edge IPs", host)
	}
	var out []dns.RR
	for _, s := range opts.EdgeIPs {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return site, nil, fmt.Errorf("edge IP %q: %w", s, err)
		}
		hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: ttl}
		if ip.Is4() {
			hdr.Rrtype = dns.TypeA
			out = append(out, &dns.A{Hdr: hdr, A: ip.AsSlice()})
		} else {
			hdr.Rrtype = dns.TypeAAAA
			out = append(out, &dns.AAAA{Hdr: hdr, AAAA: ip.AsSlice()})
		}
	}
	return site, out, nil
}

func pointer[T any](v T) *T { return &v }

// siteChecks assert that a proxied host is served by the edge: plain HTTP
// redirected, a TLS 1.2 handshake with a valid certificate, the edge's
// request id on the response, and (with an edge zone) its DNS pointing at
// the edge.
func siteChecks(host string, ptr []dns.RR, opts Options) []spec.Check {
	checks := []spec.Check{{
		Name: host + " is served by the edge",
		URL:  "https://" + host + "/",
		Expect: spec.Expect{
			RedirectsToHTTPS: pointer(true),
			TLSSupports:      []string{"1.2"},
			HeaderMatches:    map[string]string{"X-Request-Id": ".+"},
		},
	}}
	checks = append(checks, groupChecks(ptr, opts, host+" points at the edge")...)
	return checks
}

// recordChecks assert every record that is not a proxied name's address:
// one check per name and type.
func recordChecks(records []dns.RR, proxied map[string]bool, opts Options) []spec.Check {
	var keep []dns.RR
	for _, rr := range records {
		if proxied[strings.ToLower(rr.Header().Name)] && isAddress(rr) {
			continue
		}
		keep = append(keep, rr)
	}
	return groupChecks(keep, opts, "")
}

func groupChecks(records []dns.RR, opts Options, name string) []spec.Check {
	type key struct {
		name string
		typ  uint16
	}
	groups := map[key][]dns.RR{}
	var order []key
	for _, rr := range records {
		k := key{strings.ToLower(rr.Header().Name), rr.Header().Rrtype}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], rr)
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].name != order[j].name {
			return order[i].name < order[j].name
		}
		return typeRank(order[i].typ) < typeRank(order[j].typ)
	})
	var out []spec.Check
	for _, k := range order {
		rrs := groups[k]
		typ := dns.TypeToString[k.typ]
		c := spec.Check{
			Name: name,
			DNS:  &spec.DNSQuery{Name: k.name, Type: typ, Nameserver: opts.Nameserver},
		}
		if c.Name == "" {
			c.Name = fmt.Sprintf("%s %s", strings.TrimSuffix(k.name, "."), typ)
		}
		ttl := rrs[0].Header().Ttl
		same := true
		for _, rr := range rrs {
			same = same && rr.Header().Ttl == ttl
		}
		switch k.typ {
		case dns.TypeSOA:
			// The serial and primary change with every edit and with a
			// provider move: assert that the zone is served, not the data.
			c.Expect.Rcode = "NOERROR"
			c.Expect.Count = pointer(1)
		case dns.TypeMX:
			for _, rr := range rrs {
				mx := rr.(*dns.MX)
				c.Expect.MX = append(c.Expect.MX, spec.MX{Preference: mx.Preference, Exchange: mx.Mx})
			}
		default:
			for _, rr := range rrs {
				c.Expect.Rdata = append(c.Expect.Rdata, strings.TrimSpace(strings.TrimPrefix(rr.String(), rr.Header().String())))
			}
		}
		if same && k.typ != dns.TypeSOA {
			c.Expect.TTL = pointer(ttl)
		}
		out = append(out, c)
	}
	return out
}

func typeRank(t uint16) int {
	order := []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT}
	if i := slices.Index(order, t); i >= 0 {
		return i
	}
	return len(order) + int(t)
}

func sortRecords(rrs []dns.RR) {
	sort.SliceStable(rrs, func(i, j int) bool {
		a, b := rrs[i].Header(), rrs[j].Header()
		if typeRank(a.Rrtype) == 0 != (typeRank(b.Rrtype) == 0) {
			return typeRank(a.Rrtype) == 0 // the SOA first
		}
		an, bn := strings.ToLower(a.Name), strings.ToLower(b.Name)
		if an != bn {
			return dnsLess(an, bn)
		}
		return typeRank(a.Rrtype) < typeRank(b.Rrtype)
	})
}

// dnsLess orders names by their labels from the right, so a zone's names
// sit under it.
func dnsLess(a, b string) bool {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	slices.Reverse(la)
	slices.Reverse(lb)
	return slices.Compare(la, lb) < 0
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
