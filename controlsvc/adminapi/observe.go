package adminapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/certs/onboard"
	"github.com/rampart-edge/rampart/controlsvc/fleet"
)

// DefaultEdgeMaxAge is how long after its last heartbeat a node is shown as stale.
const DefaultEdgeMaxAge = 15 * time.Second

// maxEventsLimit bounds GET /events?limit=.
const maxEventsLimit = 1000

type edgeList struct {
	MaxAge string       `json:"max_age"`
	Edges  []fleet.Edge `json:"edges"`
}

// listEdges answers GET /edges: every node's last heartbeat, stale ones marked.
func (h *handler) listEdges(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, edgeList{MaxAge: h.edgeMaxAge.String(), Edges: h.fleet.Edges(h.edgeMaxAge)})
}

type siteCache struct {
	Hostname string            `json:"hostname"`
	Counters api.CacheCounters `json:"counters"`
	HitRatio float64           `json:"hit_ratio"`
	Edges    int               `json:"edges"`
}

// getSiteCache answers GET /sites/{host}/cache: the site's cache counters
// summed over the live edges' heartbeats.
func (h *handler) getSiteCache(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	if _, err := h.sites.Get(r.Context(), host); err != nil {
		h.fail(w, r, "cache", host, err)
		return
	}
	c := h.fleet.SiteCache(host, h.edgeMaxAge)
	writeJSON(w, http.StatusOK, siteCache{Hostname: host, Counters: c, HitRatio: c.HitRatio(), Edges: len(h.fleet.Live(h.edgeMaxAge))})
}

type eventList struct {
	Site   string      `json:"site"`
	Events []api.Event `json:"events"`
}

// listEvents answers GET /events?site=<host>[&limit=n]: the site's recent
// sampled edge events, newest first.
func (h *handler) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host := q.Get("site")
	if host == "" {
		writeError(w, http.StatusBadRequest, fieldBody(api.FieldErrors{{Field: "site", Msg: "required"}}))
		return
	}
	r.SetPathValue("host", host)
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEventsLimit {
			writeError(w, http.StatusBadRequest, fieldBody(api.FieldErrors{{Field: "limit", Msg: "a number from 1 to 1000"}}))
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, eventList{Site: host, Events: h.events.Recent(host, limit)})
}

type dnsStatus struct {
	Hostname string `json:"hostname"`
	// Record is the DNS record to create, in zone-file form.
	Record string `json:"record,omitempty"`
	// EdgeIPs are where A/AAAA records may point instead.
	EdgeIPs []string `json:"edge_ips,omitempty"`
	// Pointed is true when the name resolves to the edge.
	Pointed bool `json:"pointed"`
	// Found is what the name resolves to now.
	Found string `json:"found,omitempty"`
	// Error says why the check could not answer.
	Error string `json:"error,omitempty"`
}

// getSiteDNS answers GET /sites/{host}/dns: the record to create and
// whether it is seen.
func (h *handler) getSiteDNS(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	if _, err := h.sites.Get(r.Context(), host); err != nil {
		h.fail(w, r, "dns", host, err)
		return
	}
	st := dnsStatus{Hostname: host}
	if z := h.dnsCheck.Zone(); z != "" {
		st.Record = host + ". CNAME " + h.dnsCheck.EdgeName(host)
	}
	for _, ip := range h.dnsCheck.EdgeIPs() {
		st.EdgeIPs = append(st.EdgeIPs, ip.String())
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	err := h.dnsCheck.Check(ctx, host)
	var np *onboard.NotPointedError
	switch {
	case err == nil:
		st.Pointed = true
	case errors.As(err, &np):
		st.Found = np.Found
	default:
		st.Error = err.Error()
	}
	writeJSON(w, http.StatusOK, st)
}

// routeDashboard registers the endpoints whose stores are configured.
func (h *handler) routeDashboard(v1 *http.ServeMux) {
	if h.fleet != nil {
		v1.HandleFunc("GET /api/v1/edges", h.listEdges)
		v1.HandleFunc("GET /api/v1/sites/{host}/cache", h.getSiteCache)
	}
	if h.events != nil {
		v1.HandleFunc("GET /api/v1/events", h.listEvents)
	}
	if h.dnsCheck != nil {
		v1.HandleFunc("GET /api/v1/sites/{host}/dns", h.getSiteDNS)
	}
	if h.accounts != nil {
		v1.HandleFunc("GET /api/v1/users", h.listUsers)
		v1.HandleFunc("POST /api/v1/users", h.createUser)
		v1.HandleFunc("DELETE /api/v1/users/{name}", h.deleteUser)
	}
}

// sessionAuth passes a request carrying a valid session (and, on writes,
// its CSRF token) to next.
func (h *handler) sessionAuth(next http.Handler, w http.ResponseWriter, r *http.Request) {
	err := h.session(r)
	switch {
	case err == nil:
		next.ServeHTTP(w, r)
	case errors.Is(err, ErrCSRF):
		writeError(w, http.StatusForbidden, errorBody{Error: err.Error()})
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="rampart"`)
		writeError(w, http.StatusUnauthorized, errorBody{Error: "sign in, or send a bearer token"})
	}
}
