package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/internal/atomicfile"
)

// DiskStore keeps the last-known-good catalog in one file. Values are stored
// exactly as they came from KV, so certificate keys stay sealed on disk.
type DiskStore struct {
	path string
	log  *slog.Logger
}

// NewDiskStore returns a store writing to path.
func NewDiskStore(path string, log *slog.Logger) *DiskStore {
	return &DiskStore{path: path, log: log}
}

type diskFile struct {
	V       int                        `json:"v"`
	SavedAt time.Time                  `json:"saved_at"`
	Sites   map[string]json.RawMessage `json:"sites"`
	Certs   map[string]json.RawMessage `json:"certs"`
}

func (d *DiskStore) save(s *Snapshot) {
	f := diskFile{V: api.Version, SavedAt: time.Now().UTC(), Sites: map[string]json.RawMessage{}, Certs: map[string]json.RawMessage{}}
	for k, v := range s.sites {
		f.Sites[k] = v.Raw
	}
	for k, v := range s.certs {
		if v.Raw != nil { // certificates from a static file are not persisted
			f.Certs[k] = v.Raw
		}
	}
	data, err := json.Marshal(f)
	if err == nil {
		err = atomicfile.Write(d.path, data)
	}
	if err != nil {
		d.log.Error("save snapshot", "path", d.path, "err", err)
	}
}

// ErrNoSnapshot means there is no snapshot on disk yet.
var ErrNoSnapshot = errors.New("no snapshot on disk")

// LoadDisk fills the catalog from the disk snapshot. Entries that no longer
// validate are skipped and returned as errors alongside a nil error.
func (c *Catalog) LoadDisk() (time.Time, []error, error) {
	if c.store == nil {
		return time.Time{}, nil, ErrNoSnapshot
	}
	data, err := os.ReadFile(c.store.path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil, ErrNoSnapshot
	}
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("read snapshot: %w", err)
	}
	var f diskFile
	if err := json.Unmarshal(data, &f); err != nil {
		return time.Time{}, nil, fmt.Errorf("snapshot %s: %w", c.store.path, err)
	}
	if f.V != api.Version {
		return time.Time{}, nil, fmt.Errorf("snapshot %s: schema version %d is not supported", c.store.path, f.V)
	}
	errs := c.Replace(KindSite, rawMap(f.Sites))
	errs = append(errs, c.Replace(KindCert, rawMap(f.Certs))...)
	return f.SavedAt, errs, nil
}

func rawMap(m map[string]json.RawMessage) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// StaticFile is the standalone configuration of an edge that runs without
// NATS (benchmarks, single-node setups): sites and certificates with plain keys.
type StaticFile struct {
	Sites []json.RawMessage `json:"sites"`
	Certs []StaticCert      `json:"certs"`
}

// StaticCert is a certificate with its plain PEM key.
type StaticCert struct {
	Hostname string `json:"hostname"`
	ChainPEM string `json:"chain_pem"`
	KeyPEM   string `json:"key_pem"`
}

// LoadStatic fills the catalog from a static file. Any invalid entry fails
// the whole load, naming the entry.
func (c *Catalog) LoadStatic(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("static config: %w", err)
	}
	var f StaticFile
	if err := api.DecodeStrict(data, 64<<20, &f); err != nil {
		return fmt.Errorf("static config %s: %w", path, err)
	}
	sites := map[string]*Site{}
	for i, raw := range f.Sites {
		s, err := api.ParseSite(raw)
		if err != nil {
			return fmt.Errorf("static config %s: sites[%d]: %w", path, i, err)
		}
		cs, err := CompileSite(s.Hostname, raw)
		if err != nil {
			return fmt.Errorf("static config %s: sites[%d]: %w", path, i, err)
		}
		sites[s.Hostname] = cs
	}
	certs := map[string]*Cert{}
	for i, sc := range f.Certs {
		ct, err := buildCert(sc.Hostname, []byte(sc.ChainPEM), []byte(sc.KeyPEM))
		if err != nil {
			return fmt.Errorf("static config %s: certs[%d]: %w", path, i, err)
		}
		ct.Issuer = "static"
		certs[sc.Hostname] = ct
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cur.Store(&Snapshot{sites: sites, certs: certs})
	c.loaded.Store(true)
	return nil
}
