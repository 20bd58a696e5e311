package cache

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// diskTier keeps objects in files under a directory: one file per object,
// named by the SHA-256 of its key, holding a JSON header line and the body.
// An index of every file is kept in memory (rebuilt from the headers at
// start); files are written by one background goroutine so a slow disk
// never holds up a response, and the least recently used go first when the
// directory is over its byte budget.
type diskTier struct {
	dir      string
	maxBytes int64
	store    *Store

	mu    sync.Mutex
	index map[string]*diskEntry // key → entry
	// purges counts purges, so a write racing one can tell.
	purges uint64
	bases  map[string][]string // base → keys
	bytes  int64

	queue     chan *Object
	wg        sync.WaitGroup
	quit      chan struct{}
	closeOnce sync.Once
}

type diskEntry struct {
	meta    diskMeta
	size    int64
	lastUse time.Time
}

type diskMeta struct {
	Key, Base, Host, Path     string
	Status                    int
	Header                    http.Header
	RequestTime, ResponseTime time.Time
	StoredAt                  time.Time
	Policy                    Policy
	Tags, Vary                []string
	BodyLen                   int
}

const diskFormat = "rampart-cache-v1"

func openDisk(dir string, maxBytes int64, s *Store) (*diskTier, error) {
	if maxBytes == 0 {
		maxBytes = 4 << 30
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache disk tier: %w", err)
	}
	d := &diskTier{dir: dir, maxBytes: maxBytes, store: s, index: map[string]*diskEntry{}, bases: map[string][]string{},
		queue: make(chan *Object, 256), quit: make(chan struct{})}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cache disk tier: %w", err)
	}
	for _, de := range entries {
		name := de.Name()
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, ".tmp") {
			os.Remove(p)
			continue
		}
		meta, size, err := readMeta(p)
		if err != nil || d.fileName(meta.Key) != p {
			os.Remove(p) // torn or foreign file
			continue
		}
		info, _ := de.Info()
		d.add(meta, size, info.ModTime())
	}
	d.wg.Add(1)
	go d.writer()
	return d, nil
}

func readMeta(p string) (diskMeta, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return diskMeta{}, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return diskMeta{}, 0, err
	}
	br := bufio.NewReader(f)
	magic, err := br.ReadString('\n')
	if err != nil || magic != diskFormat+"\n" {
		return diskMeta{}, 0, errors.New("not a cache file")
	}
	line, err := br.ReadBytes('\n')
	if err != nil {
		return diskMeta{}, 0, err
	}
	var m diskMeta
	if err := json.Unmarshal(line, &m); err != nil {
		return diskMeta{}, 0, err
	}
	if int64(len(magic)+len(line)+m.BodyLen) != st.Size() {
		return diskMeta{}, 0, errors.New("truncated")
	}
	return m, st.Size(), nil
}

func (d *diskTier) fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(d.dir, hex.EncodeToString(sum[:16]))
}

func (d *diskTier) add(m diskMeta, size int64, used time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.addLocked(m, size, used)
}

func (d *diskTier) addLocked(m diskMeta, size int64, used time.Time) {
	if old := d.index[m.Key]; old != nil {
		d.bytes -= old.size
	} else {
		d.bases[m.Base] = append(d.bases[m.Base], m.Key)
	}
	d.index[m.Key] = &diskEntry{meta: m, size: size, lastUse: used}
	d.bytes += size
}

// put queues an object for writing; a full queue drops it (the memory tier
// still has it).
func (d *diskTier) put(o *Object) {
	select {
	case d.queue <- o:
	default:
	}
}

func (d *diskTier) writer() {
	defer d.wg.Done()
	for {
		select {
		case o := <-d.queue:
			d.write(o)
		case <-d.quit:
			for {
				select {
				case o := <-d.queue:
					d.write(o)
				default:
					return
				}
			}
		}
	}
}

func (d *diskTier) write(o *Object) {
	m := diskMeta{Key: o.Key, Base: o.Base, Host: o.Host, Path: o.Path, Status: o.Status, Header: o.Header,
		RequestTime: o.RequestTime, ResponseTime: o.ResponseTime, StoredAt: o.StoredAt, Policy: o.Policy,
		Tags: o.Tags, Vary: o.Vary, BodyLen: len(o.Body)}
	line, err := json.Marshal(m)
	if err != nil {
		return
	}
	d.mu.Lock()
	gen := d.purges
	d.mu.Unlock()
	var buf bytes.Buffer
	buf.WriteString(diskFormat + "\n")
	buf.Write(line)
	buf.WriteByte('\n')
	buf.Write(o.Body)
	p := d.fileName(o.Key)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		os.Remove(tmp)
		return
	}
	// Only what memory still holds: a purge or a newer response may have
	// replaced the object while it was queued.
	if cur, ok := d.store.mem.GetIfPresent(o.Key); !ok || cur != o {
		os.Remove(tmp)
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return
	}
	d.mu.Lock()
	raced := d.purges != gen
	if !raced {
		d.addLocked(m, int64(buf.Len()), time.Now())
	}
	d.mu.Unlock()
	if raced {
		os.Remove(p)
		return
	}
	d.evict()
}

func (d *diskTier) evict() {
	d.mu.Lock()
	if d.bytes <= d.maxBytes {
		d.mu.Unlock()
		return
	}
	all := make([]*diskEntry, 0, len(d.index))
	for _, e := range d.index {
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b *diskEntry) int { return a.lastUse.Compare(b.lastUse) })
	target := d.maxBytes * 9 / 10
	var drop []string
	for _, e := range all {
		if d.bytes <= target {
			break
		}
		d.removeLocked(e.meta.Key)
		drop = append(drop, e.meta.Key)
	}
	d.mu.Unlock()
	for _, k := range drop {
		os.Remove(d.fileName(k))
	}
}

func (d *diskTier) removeLocked(key string) bool {
	e := d.index[key]
	if e == nil {
		return false
	}
	delete(d.index, key)
	d.bytes -= e.size
	keys := slices.DeleteFunc(d.bases[e.meta.Base], func(k string) bool { return k == key })
	if len(keys) == 0 {
		delete(d.bases, e.meta.Base)
	} else {
		d.bases[e.meta.Base] = keys
	}
	return true
}

func (d *diskTier) remove(key string) {
	d.mu.Lock()
	ok := d.removeLocked(key)
	d.mu.Unlock()
	if ok {
		os.Remove(d.fileName(key))
	}
}

// get reads the variant a request selects, or nil.
func (d *diskTier) get(base string, h http.Header) *Object {
	d.mu.Lock()
	keys := d.bases[base]
	var e *diskEntry
	if len(keys) > 0 {
		vary := d.index[keys[0]].meta.Vary
		e = d.index[base+variantKey(vary, h)]
		if e != nil {
			e.lastUse = time.Now()
		}
	}
	d.mu.Unlock()
	if e == nil {
		return nil
	}
	f, err := os.Open(d.fileName(e.meta.Key))
	if err != nil {
		return nil
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, e.size+1))
	if err != nil || int64(len(data)) != e.size {
		return nil
	}
	body := data[len(data)-e.meta.BodyLen:]
	m := e.meta
	return &Object{Key: m.Key, Base: m.Base, Host: m.Host, Path: m.Path, Status: m.Status, Header: m.Header,
		Body: body, RequestTime: m.RequestTime, ResponseTime: m.ResponseTime, StoredAt: m.StoredAt,
		Policy: m.Policy, Tags: m.Tags, Vary: m.Vary}
}

// purge removes matching files; see Store.Purge.
func (d *diskTier) purge(host string, before time.Time, match func(o *Object) bool) []string {
	d.mu.Lock()
	d.purges++
	var drop []string
	for k, e := range d.index {
		m := e.meta
		if m.Host != host || (!before.IsZero() && !m.StoredAt.Before(before)) {
			continue
		}
		o := &Object{Key: m.Key, Base: m.Base, Host: m.Host, Path: m.Path, Status: m.Status, Header: m.Header, Tags: m.Tags, Vary: m.Vary, StoredAt: m.StoredAt}
		if match(o) {
			d.removeLocked(k)
			drop = append(drop, k)
		}
	}
	d.mu.Unlock()
	for _, k := range drop {
		os.Remove(d.fileName(k))
	}
	return drop
}

func (d *diskTier) close() error {
	d.closeOnce.Do(func() { close(d.quit) })
	d.wg.Wait()
	return nil
}
