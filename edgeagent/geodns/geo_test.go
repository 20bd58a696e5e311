package geodns

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/miekg/dns"
)

// writeGeoDB writes a tiny GeoIP2-Country-like database: network →
// (country, continent).
func writeGeoDB(t testing.TB, nets map[string][2]string) string {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoIP2-Country", RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, cc := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String(cc[0])},
			"continent": mmdbtype.Map{"code": mmdbtype.String(cc[1])},
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGeoIPDatabase(t *testing.T) {
	cfg := testConfig()
	cfg.GeoIPDB = writeGeoDB(t, map[string][2]string{
		"81.2.69.0/24":     {"GB", "EU"},
		"89.160.20.0/24":   {"SE", "EU"},
		"175.16.199.0/24":  {"CN", "AS"},
		"2a02:cf40::/32":   {"NO", "EU"},
		"216.160.83.56/29": {"US", "NA"},
		"10.1.0.0/16":      {"AU", "OC"}, // the CIDR table wins over the database
	})
	cfg.Countries = map[string][]string{"GB": {"ams3"}, "US": {"nyc3"}}
	cfg.Continents = map[string][]string{"EU": {"ams3", "nyc3"}, "AS": {"syd1"}, "OC": {"syd1"}}
	cfg.Default = []string{"nyc3", "ams3"}
	s := newTestServer(t, cfg, "shop.example.com")
	site := "shop.example.com." + testZone
	for _, c := range []struct {
		subnet, src string
		want        string
	}{
		{"81.2.69.0/24", "127.0.0.1", "192.0.2.2"},       // country GB
		{"89.160.20.128/25", "127.0.0.1", "192.0.2.2"},   // continent EU
		{"175.16.199.0/24", "127.0.0.1", "192.0.2.3"},    // continent AS
		{"2a02:cf40:1::/48", "127.0.0.1", "192.0.2.2"},   // IPv6 client, EU
		{"216.160.83.56/32", "127.0.0.1", "192.0.2.1"},   // country US
		{"10.1.0.0/24", "127.0.0.1", "192.0.2.1"},        // CIDR table first
		{"", "175.16.199.1", "192.0.2.3"},                // resolver address
		{"198.51.100.0/24", "127.0.0.1", "192.0.2.1"},    // not in the database: default
		{"", "89.160.20.1", "192.0.2.2"},                 // cached record, again
		{"89.160.20.0/24", "89.160.20.1", "192.0.2.2"},   // both
		{"203.0.113.0/24", "175.16.199.1", "192.0.2.1"},  // ECS wins over the resolver
		{"175.16.199.0/24", "203.0.113.1", "192.0.2.3"},  // ...both ways
		{"175.16.199.0/24", "175.16.199.2", "192.0.2.3"}, // same
	} {
		resp := ask(t, s, query(site, dns.TypeA, c.subnet, false), c.src, true)
		if got := addrs(resp); !slices.Equal(got, []string{c.want}) {
			t.Errorf("client %q via %s: %v, want %s", c.subnet, c.src, got, c.want)
		}
	}
	cfg.GeoIPDB = filepath.Join(t.TempDir(), "missing.mmdb")
	if _, err := New(cfg, nil, nil); err == nil {
		t.Error("a missing database is not an error")
	}
}
