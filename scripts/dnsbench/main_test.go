package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/oschwald/maxminddb-golang/v2"
	"net/netip"
)

func TestParseDnsperf(t *testing.T) {
	out := `Statistics:

  Queries sent:         283532
  Queries completed:    283480 (99.98%)
  Queries lost:         52 (0.02%)

  Response codes:       NOERROR 283480 (100.00%)
  Average packet size:  request 50, response 66
  Run time (s):         10.001228
  Queries per second:   28344.519365
`
	qps, lost, err := parseDnsperf(out)
	if err != nil || qps != 28344.519365 || lost != 0.02 {
		t.Fatalf("%v %v %v", qps, lost, err)
	}
	if _, _, err := parseDnsperf("Error: socket"); err == nil {
		t.Fatal("no error without a result")
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := median([]float64{4, 1, 2, 3}); m != 2.5 {
		t.Errorf("median %v", m)
	}
}

// The database both servers read places the bench clients as documented.
func TestGeoDB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	if err := writeGeoDB(path); err != nil {
		t.Fatal(err)
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for addr, want := range map[string]string{"127.0.0.1": "NA", "81.2.69.9": "EU", "1.130.0.1": "OC"} {
		var rec struct {
			Continent struct {
				Code string `maxminddb:"code"`
			} `maxminddb:"continent"`
		}
		if err := db.Lookup(netip.MustParseAddr(addr)).Decode(&rec); err != nil || rec.Continent.Code != want {
			t.Errorf("%s: %q %v", addr, rec.Continent.Code, err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
