package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/edgeagent/zoneimport"
	"github.com/rampart-edge/rampart/edgeagent/zoneserve"
)

func edgectl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestImportThenSpecRun(t *testing.T) {
	dir := t.TempDir()
	zone := "../../zoneimport/testdata/example.zone"
	code, out, stderr := edgectl(t, "import", "--proxied", "www.example.test", "--edge-zone", "edge.rampart.test", "--out", dir, zone)
	if code != 0 || !strings.Contains(out, "1 sites") {
		t.Fatalf("import: %d %s %s", code, out, stderr)
	}
	for _, f := range []string{"sites.json", "records.zone", "spec.yaml"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}

	// The old zone on a real nameserver, no edge yet: the suite is red.
	zf, err := os.Open(zone)
	if err != nil {
		t.Fatal(err)
	}
	rrs, err := zoneimport.ParseBIND(zf, zone, "")
	zf.Close()
	if err != nil {
		t.Fatal(err)
	}
	srv := zoneserve.New(rrs)
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	junit := filepath.Join(dir, "junit.xml")
	code, out, stderr = edgectl(t, "spec", "run", "--edge", closed, "--timeout", "2s", filepath.Join(dir, "spec.yaml"),
		"--nameserver", "authoritative="+srv.Addr(), "--junit", junit)
	if code != 1 || !strings.Contains(out, "FAIL  imported zone example.test › www.example.test points at the edge › rdata (udp)") ||
		!strings.Contains(out, "expected: www.example.test.edge.rampart.test.") || !strings.Contains(out, "actual:   NOERROR, shop-origin.hosting.example.") {
		t.Fatalf("spec run: %d\n%s\n%s", code, out, stderr)
	}
	x, err := os.ReadFile(junit)
	if err != nil || !bytes.Contains(x, []byte("<failure")) || !bytes.Contains(x, []byte(`name="example.test MX › mx exchange and preference (tcp)"`)) {
		t.Fatalf("junit: %v\n%s", err, x)
	}

	// A spec the zone meets exits 0.
	ok := filepath.Join(dir, "ok.yaml")
	os.WriteFile(ok, []byte("checks:\n- dns: {name: example.test, type: MX, nameserver: authoritative}\n  expect: {mx: [{preference: 10, exchange: mx1.example.test}, {preference: 20, exchange: mx2.mail.example}]}\n"), 0o644)
	if code, out, stderr = edgectl(t, "spec", "run", "--nameserver", "authoritative="+srv.Addr(), ok); code != 0 || !strings.Contains(out, "2 matchers, 2 passed, 0 failed") {
		t.Fatalf("%d %s %s", code, out, stderr)
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	code, _, stderr := edgectl(t, "import", "--out", t.TempDir(), "../../zoneimport/testdata/malformed.zone")
	if code != 2 || !strings.Contains(stderr, "malformed.zone") || !strings.Contains(stderr, "line: 6") {
		t.Fatalf("%d %s", code, stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("checks:\n- url: https://a.test/\n  expect: {stauts: 200}\n"), 0o644)
	if code, _, stderr = edgectl(t, "spec", "run", bad); code != 2 || !strings.Contains(stderr, "stauts") {
		t.Fatalf("%d %s", code, stderr)
	}
	if code, _, _ = edgectl(t, "nope"); code != 2 {
		t.Fatal(code)
	}
}
