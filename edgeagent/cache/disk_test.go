package cache

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// openStore opens a store on dir; the caller closes it (Close flushes
// the disk writer).
func openStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func dirBytes(t *testing.T, dir string) (files int, n int64) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		files++
		n += info.Size()
	}
	return files, n
}

func TestDiskSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{DiskDir: dir})
	gz := testObject("https://www.example.com/page", "/page", t0, http.Header{"Vary": {"Accept-Encoding"}, "Cache-Control": {"max-age=60"}, "Etag": {`"v1"`}, "Surrogate-Key": {"t1"}})
	gz.Body = []byte("gzip body")
	br := testObject("https://www.example.com/page", "/page", t0, http.Header{"Vary": {"Accept-Encoding"}, "Cache-Control": {"max-age=60"}})
	br.Body = []byte("br body")
	s.PutFor(gz, http.Header{"Accept-Encoding": {"gzip"}})
	s.PutFor(br, http.Header{"Accept-Encoding": {"br"}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if files, _ := dirBytes(t, dir); files != 2 {
		t.Fatalf("%d files on disk, want 2", files)
	}

	s2 := openStore(t, Config{DiskDir: dir})
	defer s2.Close()
	got := s2.Lookup(gz.Base, http.Header{"Accept-Encoding": {"gzip, x-unknown"}})
	if got == nil {
		t.Fatal("the gzip variant did not survive")
	}
	if !bytes.Equal(got.Body, gz.Body) || got.Header.Get("Etag") != `"v1"` || got.Status != 200 ||
		!got.ResponseTime.Equal(t0) || len(got.Tags) != 1 || got.Tags[0] != "t1" || got.Path != "/page" || got.Host != "www.example.com" {
		t.Errorf("restored object differs: %+v", got)
	}
	if f := got.Freshness(t0.Add(30 * time.Second)); !f.Fresh() || f.TTL() != 30*time.Second {
		t.Errorf("restored freshness %+v", f)
	}
	if got := s2.Lookup(br.Base, http.Header{"Accept-Encoding": {"br"}}); got == nil || string(got.Body) != "br body" {
		t.Errorf("br variant: %+v", got)
	}
	if got := s2.Lookup(br.Base, http.Header{}); got != nil {
		t.Error("a request without Accept-Encoding got a compressed variant")
	}
	// Read back, the object is in memory again.
	s2.mem.CleanUp()
	if s2.Len() == 0 {
		t.Error("a disk hit was not put back in memory")
	}
}

func TestDiskDropsTornFiles(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{DiskDir: dir})
	o := testObject("https://www.example.com/p", "/p", t0, nil)
	s.PutFor(o, http.Header{})
	s.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files", len(entries))
	}
	p := filepath.Join(dir, entries[0].Name())
	data, _ := os.ReadFile(p)
	if err := os.WriteFile(p, data[:len(data)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "junk"), []byte("not a cache file"), 0o600)
	os.WriteFile(filepath.Join(dir, "x.tmp"), []byte("half"), 0o600)

	s2 := openStore(t, Config{DiskDir: dir})
	defer s2.Close()
	if s2.Lookup(o.Base, http.Header{}) != nil {
		t.Error("a truncated file was served")
	}
	if files, _ := dirBytes(t, dir); files != 0 {
		t.Errorf("%d files left after start, want 0", files)
	}
}

func TestDiskPurge(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{DiskDir: dir})
	for _, p := range []string{"/a", "/b", "/static/c"} {
		s.PutFor(testObject("https://www.example.com"+p, p, t0, nil), http.Header{})
	}
	s.Close()

	// A new store knows the files only from disk.
	s2 := openStore(t, Config{DiskDir: dir})
	if n := s2.ApplyPurge(api.Purge{Hostname: "www.example.com", URLs: []string{"/a"}, Prefixes: []string{"/static/"}}, nil, t0.Add(time.Second)); n != 2 {
		t.Errorf("purged %d, want 2", n)
	}
	s2.Close()
	if files, _ := dirBytes(t, dir); files != 1 {
		t.Errorf("%d files after the purge, want 1", files)
	}
	s3 := openStore(t, Config{DiskDir: dir})
	defer s3.Close()
	if s3.Lookup("https://www.example.com/a", nil) != nil || s3.Lookup("https://www.example.com/static/c", nil) != nil {
		t.Error("a purged object came back from disk")
	}
	if s3.Lookup("https://www.example.com/b", nil) == nil {
		t.Error("an object the purge did not name is gone")
	}
}

// TestDiskPurgeOfMemoryAndDisk: an object in both tiers is gone from both.
func TestDiskPurgeOfMemoryAndDisk(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, Config{DiskDir: dir})
	o := testObject("https://www.example.com/a", "/a", t0, nil)
	s.PutFor(o, http.Header{})
	s.Close()
	s2 := openStore(t, Config{DiskDir: dir})
	defer s2.Close()
	if s2.Lookup(o.Base, nil) == nil { // now in memory too
		t.Fatal("not restored")
	}
	if n := s2.ApplyPurge(api.Purge{Hostname: "www.example.com", Tags: nil, URLs: []string{"/a"}}, nil, t0.Add(time.Second)); n != 1 {
		t.Errorf("purged %d, want 1 (one object in two tiers)", n)
	}
	if s2.Lookup(o.Base, nil) != nil {
		t.Error("the purged object is still served")
	}
}

func TestDiskByteBound(t *testing.T) {
	dir := t.TempDir()
	const limit = 20 << 10
	s := openStore(t, Config{DiskDir: dir, DiskMaxBytes: limit})
	const n = 30
	for i := range n {
		o := testObject("https://www.example.com/o"+strconv.Itoa(i), "/o", t0, nil)
		o.Body = bytes.Repeat([]byte{'x'}, 2<<10)
		s.PutFor(o, http.Header{})
	}
	s.Close()
	files, size := dirBytes(t, dir)
	if size > limit {
		t.Errorf("%d bytes on disk, limit %d", size, limit)
	}
	if files == 0 || files >= n {
		t.Fatalf("%d of %d files kept", files, n)
	}
	s2 := openStore(t, Config{DiskDir: dir, DiskMaxBytes: limit})
	defer s2.Close()
	if s2.Lookup("https://www.example.com/o0", nil) != nil {
		t.Error("the least recently used object was kept")
	}
	if s2.Lookup("https://www.example.com/o"+strconv.Itoa(n-1), nil) == nil {
		t.Error("the newest object was evicted")
	}
}
