package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/blocklist"
)

// routeBlocklist serves GET and PUT /api/v1/blocklist when a store is set.
func (h *handler) routeBlocklist(v1 *http.ServeMux) {
	if h.blocklist == nil {
		return
	}
	v1.HandleFunc("GET /api/v1/blocklist", h.getBlocklist)
	v1.HandleFunc("PUT /api/v1/blocklist", h.putBlocklist)
	v1.HandleFunc("/api/v1/blocklist", methodNotAllowed("GET, PUT"))
}

func (h *handler) getBlocklist(w http.ResponseWriter, r *http.Request) {
	e, err := h.blocklist.Get(r.Context())
	if err != nil {
		h.internal(w, r, "blocklist", "", err)
		return
	}
	writeBlocklist(w, e)
}

// putBlocklist replaces the whole list. An If-Match header with the ETag
// of a previous read makes the write conditional on the list being
// unchanged (412 otherwise).
func (h *handler) putBlocklist(w http.ResponseWriter, r *http.Request) {
	ifRev, ok := ifMatch(w, r)
	if !ok {
		return
	}
	data, ok := readJSONBody(w, r, api.MaxBlocklistBytes)
	if !ok {
		return
	}
	var l api.Blocklist
	if err := api.DecodeStrict(data, api.MaxBlocklistBytes, &l); err != nil {
		writeError(w, http.StatusBadRequest, fieldBody(api.AsFieldErrors(err)))
		return
	}
	e, err := h.blocklist.Put(r.Context(), l, ifRev)
	if fes := api.AsFieldErrors(err); fes != nil {
		writeError(w, http.StatusBadRequest, fieldBody(fes))
		return
	}
	if errors.Is(err, blocklist.ErrConflict) {
		writeError(w, http.StatusPreconditionFailed, errorBody{Error: fmt.Sprintf("the blocklist changed since revision %d", ifRev)})
		return
	}
	if err != nil {
		h.internal(w, r, "blocklist", "", err)
		return
	}
	h.log.Info("blocklist replaced", "action", "blocklist", "entries", len(e.List.Entries), "revision", e.Revision)
	writeBlocklist(w, e)
}

func writeBlocklist(w http.ResponseWriter, e blocklist.Entry) {
	w.Header().Set("ETag", `"`+strconv.FormatUint(e.Revision, 10)+`"`)
	writeJSON(w, http.StatusOK, e.List)
}
