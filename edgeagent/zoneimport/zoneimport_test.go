package zoneimport

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/spec"
	"github.com/rampart-edge/rampart/edgeagent/zoneserve"
)

func parseFile(t *testing.T, path, origin string) []dns.RR {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rrs, err := ParseBIND(f, path, origin)
	if err != nil {
		t.Fatal(err)
	}
	return rrs
}

// has reports whether set holds a record equal to rr (rdata and TTL).
func has(set []dns.RR, rr dns.RR) bool {
	for _, s := range set {
		if dns.IsDuplicate(s, rr) && s.Header().Ttl == rr.Header().Ttl {
			return true
		}
	}
	return false
}

// runSpec serves records on a real DNS server and runs the spec's checks
// against it (HTTP checks against a closed port: no edge yet).
func runSpec(t *testing.T, f *spec.File, records []dns.RR) *spec.Report {
	t.Helper()
	srv := zoneserve.New(records)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	rep, err := spec.Run(context.Background(), []*spec.File{f}, spec.Options{
		Nameservers: map[string]string{"authoritative": srv.Addr()},
		Resolve:     []string{"*:443:" + closed, "*:80:" + closed},
		Timeout:     2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func failedChecks(rep *spec.Report) map[string]bool {
	out := map[string]bool{}
	for _, r := range rep.Results {
		if !r.Pass {
			out[r.Check] = true
		}
	}
	return out
}

func TestBINDRoundTrip(t *testing.T) {
	in := parseFile(t, "testdata/example.zone", "")
	types := map[uint16]bool{}
	for _, rr := range in {
		types[rr.Header().Rrtype] = true
	}
	for _, want := range []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT, dns.TypeSRV, dns.TypeCAA, dns.TypePTR} {
		if !types[want] {
			t.Fatalf("sample zone lacks %s", dns.TypeToString[want])
		}
	}
	res, err := Build(in, Options{Proxied: []string{"www.example.test", "shop.example.test.", "Example.Test"},
		EdgeZone: "edge.rampart.test", EdgeIPs: []string{"127.0.1.1"}})
	if err != nil {
		t.Fatal(err)
	}

	// Sites: the proxied names' address records became their origins.
	if len(res.Sites) != 3 {
		t.Fatalf("sites: %+v", res.Sites)
	}
	var sites bytes.Buffer
	if err := res.WriteSites(&sites); err != nil {
		t.Fatal(err)
	}
	var decoded []json.RawMessage
	if err := json.Unmarshal(sites.Bytes(), &decoded); err != nil || len(decoded) != 3 {
		t.Fatalf("%v %s", err, sites.String())
	}
	want := map[string][]string{
		"example.test":      {"https://192.0.2.10", "https://[2001:db8::10]"},
		"shop.example.test": {"https://192.0.2.20", "https://192.0.2.21", "https://[2001:db8::20]"},
		"www.example.test":  {"https://shop-origin.hosting.example"},
	}
	for _, raw := range decoded {
		s, err := api.ParseSite(raw) // strict decode and Validate, as the control plane does
		if err != nil {
			t.Fatalf("%v: %s", err, raw)
		}
		var got []string
		for _, o := range s.Origins {
			got = append(got, o.URL)
			if o.TLS.ServerName != s.Hostname {
				t.Errorf("%s: origin TLS server name %q", s.Hostname, o.TLS.ServerName)
			}
		}
		if strings.Join(got, " ") != strings.Join(want[s.Hostname], " ") {
			t.Errorf("%s: origins %v, want %v", s.Hostname, got, want[s.Hostname])
		}
	}

	// Records: written as a master file, they parse back to the input minus
	// the proxied address records, plus the pointers at the edge.
	var zone bytes.Buffer
	if err := res.WriteRecords(&zone); err != nil {
		t.Fatal(err)
	}
	out, err := ParseBIND(&zone, "records.zone", "")
	if err != nil {
		t.Fatalf("%v\n%s", err, zone.String())
	}
	proxied := map[string]bool{"example.test.": true, "www.example.test.": true, "shop.example.test.": true}
	kept := 0
	for _, rr := range in {
		moved := proxied[rr.Header().Name] && isAddress(rr)
		if has(out, rr) == moved {
			t.Errorf("record %v: in output %v, want %v", rr, !moved, !moved)
		}
		if !moved {
			kept++
		}
	}
	pointers := []string{
		"www.example.test. 300 IN CNAME www.example.test.edge.rampart.test.",
		"shop.example.test. 120 IN CNAME shop.example.test.edge.rampart.test.",
		"example.test. 300 IN A 127.0.1.1", // the apex cannot be a CNAME
	}
	for _, p := range pointers {
		rr, _ := dns.NewRR(p)
		if !has(out, rr) {
			t.Errorf("missing pointer %s in\n%s", p, zone.String())
		}
	}
	if len(out) != kept+len(pointers) {
		t.Errorf("%d records written, want %d", len(out), kept+len(pointers))
	}
	long := 0
	for _, rr := range out {
		if txt, ok := rr.(*dns.TXT); ok && strings.HasPrefix(txt.Hdr.Name, "sel._domainkey") {
			long = len(txt.Txt)
		}
	}
	if long != 2 {
		t.Errorf("the long TXT has %d strings, want 2", long)
	}

	// The spec: written, read back, every kept record asserted.
	var specYAML bytes.Buffer
	if err := res.WriteSpec(&specYAML); err != nil {
		t.Fatal(err)
	}
	f, err := spec.Parse("imported.yaml", specYAML.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, specYAML.String())
	}
	for _, rr := range in {
		if proxied[rr.Header().Name] && isAddress(rr) {
			continue
		}
		if !asserted(f, rr) {
			t.Errorf("no check asserts %v", rr)
		}
	}

	// Before the move (the old zone, no edge): the pointers and the sites
	// fail, everything else passes.
	before := failedChecks(runSpec(t, f, in))
	for _, h := range []string{"example.test", "www.example.test", "shop.example.test"} {
		if !before[h+" points at the edge"] || !before[h+" is served by the edge"] {
			t.Errorf("before the move, %s should fail: %v", h, before)
		}
	}
	if len(before) != 6 {
		t.Errorf("before the move, only the moved names should fail: %v", before)
	}
	// After the records move, only the edge's own checks are left.
	after := failedChecks(runSpec(t, f, out))
	if len(after) != 3 {
		t.Errorf("after the DNS move: %v", after)
	}
	for c := range after {
		if !strings.HasSuffix(c, "is served by the edge") {
			t.Errorf("after the DNS move, %q fails", c)
		}
	}
}

// asserted reports whether a check of f covers rr.
func asserted(f *spec.File, rr dns.RR) bool {
	for _, c := range f.Checks {
		if c.DNS == nil || !strings.EqualFold(dns.Fqdn(c.DNS.Name), rr.Header().Name) || c.DNS.Type != dns.TypeToString[rr.Header().Rrtype] {
			continue
		}
		switch v := rr.(type) {
		case *dns.SOA:
			return c.Expect.Count != nil && *c.Expect.Count == 1
		case *dns.MX:
			for _, m := range c.Expect.MX {
				if m.Preference == v.Preference && m.Exchange == v.Mx {
					return c.Expect.TTL != nil && *c.Expect.TTL == rr.Header().Ttl
				}
			}
		default:
			for _, r := range c.Expect.Rdata {
				e, err := dns.NewRR(rr.Header().Name + " 0 IN " + c.DNS.Type + " " + r)
				if err == nil && dns.IsDuplicate(e, rr) {
					return c.Expect.TTL != nil && *c.Expect.TTL == rr.Header().Ttl
				}
			}
		}
	}
	return false
}

func TestProviderJSON(t *testing.T) {
	fh, err := os.Open("testdata/cloudflare.json")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rrs, proxied, err := ParseProviderJSON(fh, "cloudflare.json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(proxied, ",") != "example.test,www.example.test" || len(rrs) != 12 {
		t.Fatalf("proxied %v, %d records", proxied, len(rrs))
	}
	bind := parseFile(t, "testdata/example.zone", "")
	// The export describes the same zone as the BIND file (TTL 1 is
	// "automatic", 300): every record but the NS matches one there.
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME && rr.Header().Ttl != 300 {
			t.Errorf("automatic TTL: %v", rr)
		}
		if !has(bind, rr) && rr.Header().Rrtype != dns.TypeNS {
			t.Errorf("%v is not in the BIND sample", rr)
		}
	}
	res, err := Build(rrs, Options{Proxied: proxied, EdgeZone: "edge.rampart.test", EdgeIPs: []string{"127.0.1.1", "::1"}, OriginScheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sites) != 2 || res.Sites[1].Origins[0].URL != "http://shop-origin.hosting.example" || res.Sites[1].Origins[0].TLS.ServerName != "" {
		t.Fatalf("%+v", res.Sites)
	}
	var y bytes.Buffer
	res.WriteSpec(&y)
	f, err := spec.Parse("cf.yaml", y.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	after := failedChecks(runSpec(t, f, res.Records))
	if len(after) != 2 || !after["example.test is served by the edge"] || !after["www.example.test is served by the edge"] {
		t.Fatalf("with the records moved, only the edge checks should fail: %v", after)
	}
}

func TestMalformedInputNamesFileAndLine(t *testing.T) {
	f, err := os.Open("testdata/malformed.zone")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = ParseBIND(f, "testdata/malformed.zone", "")
	if err == nil || !strings.Contains(err.Error(), "testdata/malformed.zone") || !strings.Contains(err.Error(), "line: 6") {
		t.Fatalf("got %v, want the file and line 6 named", err)
	}
	j, err := os.Open("testdata/malformed.json")
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, _, err = ParseProviderJSON(j, "malformed.json")
	if err == nil || !strings.Contains(err.Error(), "malformed.json: record 1 (MX example.test): MX without priority") {
		t.Fatalf("got %v", err)
	}
	_, _, err = ParseProviderJSON(strings.NewReader("[\n {\"type\": \"A\",\n  \"name\": 7}\n]"), "typed.json")
	if err == nil || !strings.Contains(err.Error(), "typed.json:3") {
		t.Fatalf("got %v, want typed.json:3", err)
	}
	if _, err := Build(parseFile(t, "testdata/example.zone", ""), Options{Proxied: []string{"mx2.mail.example"}}); err == nil ||
		!strings.Contains(err.Error(), "mx2.mail.example has no A, AAAA or CNAME") {
		t.Fatalf("got %v", err)
	}
	if _, err := Build(parseFile(t, "testdata/example.zone", ""), Options{Proxied: []string{"example.test"}, EdgeZone: "edge.rampart.test"}); err == nil ||
		!strings.Contains(err.Error(), "give the edge IPs") {
		t.Fatalf("got %v", err)
	}
}
