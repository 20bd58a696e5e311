package adminapi

import (
	"net/http"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// routePurge serves POST /api/v1/sites/{host}/purge when purges are wired.
func (h *handler) routePurge(v1 *http.ServeMux) {
	if h.purge == nil {
		return
	}
	v1.HandleFunc("POST /api/v1/sites/{host}/purge", h.purgeSite)
	v1.HandleFunc("/api/v1/sites/{host}/purge", methodNotAllowed("POST"))
}

// purgeSite purges a site's cached objects on every edge: 200 when every
// live edge confirmed, 202 when some did not answer in time (they apply
// the stored purge when they can), with the list either way.
func (h *handler) purgeSite(w http.ResponseWriter, r *http.Request) {
	host, ok := pathHost(w, r)
	if !ok {
		return
	}
	data, ok := readJSONBody(w, r, api.MaxPurgeBytes)
	if !ok {
		return
	}
	var req api.PurgeRequest
	if err := api.DecodeStrict(data, api.MaxPurgeBytes, &req); err != nil {
		writeError(w, http.StatusBadRequest, fieldBody(api.AsFieldErrors(err)))
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, fieldBody(api.AsFieldErrors(err)))
		return
	}
	if _, err := h.sites.Get(r.Context(), host); err != nil {
		h.fail(w, r, "purge", host, err)
		return
	}
	res, err := h.purge(r.Context(), host, req)
	if fes := api.AsFieldErrors(err); fes != nil {
		writeError(w, http.StatusBadRequest, fieldBody(fes))
		return
	}
	if err != nil {
		h.internal(w, r, "purge", host, err)
		return
	}
	h.log.Info("purge issued", "action", "purge", "site", host, "id", res.ID,
		"urls", len(req.URLs), "prefixes", len(req.Prefixes), "tags", len(req.Tags), "all", req.All,
		"confirmed", len(res.Confirmed), "pending", len(res.Pending))
	status := http.StatusOK
	if len(res.Pending) > 0 {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}
