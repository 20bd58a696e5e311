package cache

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// PathQuery is the normalised path and query of a URL as the cache keys it
// (without scheme and host); u may be a path with a query or an absolute URL.
func (sp *SitePolicy) PathQuery(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false
	}
	pq := normalizePath(u.EscapedPath())
	if sp != nil {
		if q := sp.normalizeQuery(u.RawQuery); q != "" {
			pq += "?" + q
		}
	}
	return pq, true
}

// ApplyPurge removes a site's objects the purge names that were stored
// before `before` — the moment this edge learnt of the purge, so a clock
// that differs from the control plane's cannot let an object escape. sp is
// the site's policy (nil when the site is gone: URLs are then matched with
// the default query normalisation).
func (s *Store) ApplyPurge(p api.Purge, sp *SitePolicy, before time.Time) int {
	if sp == nil {
		sp = Compile(api.CachePolicy{})
	}
	urls := map[string]bool{}
	for _, u := range p.URLs {
		if pq, ok := sp.PathQuery(u); ok {
			urls[pq] = true
		}
	}
	var prefixes []string
	for _, pre := range p.Prefixes {
		prefixes = append(prefixes, normalizePath(pre))
	}
	return s.Purge(p.Hostname, before, func(o *Object) bool {
		if p.All || urls[o.pathQuery()] {
			return true
		}
		for _, pre := range prefixes {
			if strings.HasPrefix(o.Path, pre) {
				return true
			}
		}
		for _, t := range p.Tags {
			if slices.Contains(o.Tags, t) {
				return true
			}
		}
		return false
	})
}

// Tags reads the purge tags of a response: Surrogate-Key (space separated)
// and Cache-Tag (comma separated). At most 100 are kept.
func Tags(surrogateKey, cacheTag []string) []string {
	var tags []string
	for _, l := range surrogateKey {
		tags = append(tags, strings.Fields(l)...)
	}
	for _, l := range cacheTag {
		for t := range strings.SplitSeq(l, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	slices.Sort(tags)
	tags = slices.Compact(tags)
	if len(tags) > 100 {
		tags = tags[:100]
	}
	return tags
}
