package adminapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/rampart-edge/rampart/controlsvc/accounts"
	"github.com/rampart-edge/rampart/controlsvc/api"
)

type userList struct {
	Users []accounts.User `json:"users"`
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) {
	us, err := h.accounts.Users(r.Context())
	if err != nil {
		h.internal(w, r, "users", "", err)
		return
	}
	writeJSON(w, http.StatusOK, userList{Users: us})
}

type newUser struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// createUser answers POST /users {"name","password"}: a dashboard user.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) {
	var req newUser
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, errorBody{Error: "body must be {\"name\": …, \"password\": …}"})
		return
	}
	u, err := h.accounts.CreateUser(r.Context(), req.Name, req.Password)
	if fes := api.AsFieldErrors(err); fes != nil {
		writeError(w, http.StatusBadRequest, fieldBody(fes))
		return
	}
	if errors.Is(err, accounts.ErrUserExists) {
		writeError(w, http.StatusConflict, fieldBody(api.FieldErrors{{Field: "name", Msg: "a user with this name exists"}}))
		return
	}
	if err != nil {
		h.internal(w, r, "create user", "", err)
		return
	}
	h.log.Info("admin user created", "action", "create_user", "user", u.Name)
	writeJSON(w, http.StatusCreated, u)
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := h.accounts.DeleteUser(r.Context(), name)
	if errors.Is(err, accounts.ErrNoUser) {
		writeError(w, http.StatusNotFound, errorBody{Error: "no such user"})
		return
	}
	if err != nil {
		h.internal(w, r, "delete user", "", err)
		return
	}
	h.log.Info("admin user deleted", "action", "delete_user", "user", name)
	w.WriteHeader(http.StatusNoContent)
}
