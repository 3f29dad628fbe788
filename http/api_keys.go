package httpapi

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

type createAPIKeyRequest struct {
	Name     *string `json:"name"`
	Duration string  `json:"duration"`
	RoleName *string `json:"role_name"`
}

// createAPIKey mints a key whose role the caller's own role covers, so a key
// can never sign anyone in with more than its creator holds.
func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createAPIKeyRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	lifetime, err := auth.KeyLifetime(req.Duration)
	if err != nil {
		return validationFailed(fieldError{Loc: []any{"body", "duration"}, Msg: err.Error(), Type: "value_error", Input: req.Duration})
	}
	roleName := auth.DefaultAdministratorRole
	if req.RoleName != nil {
		roleName = *req.RoleName
	}
	role, err := s.grantableRole(r, roleName)
	if err != nil {
		return err
	}
	keyID, secret := auth.NewAPIKey()
	hash, err := s.keyHashCost.Hash(secret)
	if err != nil {
		return err
	}
	k, err := s.store.CreateAPIKey(ctx, store.APIKey{
		KeyID: keyID, OrgID: st.org.ID, Name: req.Name, SecretHash: hash, RoleID: role.ID,
		CreatorUserID: st.principal.UserID, CreatorOrgID: st.principal.OrgID, ExpiresAt: s.now().Add(lifetime),
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"api_key_id": k.KeyID, "api_key": secret, "expires_at": apiTime(k.ExpiresAt)})
	return nil
}

type apiKeyInstance struct {
	ID        string      `json:"_id"`
	Name      *string     `json:"name"`
	OrgID     string      `json:"org_id"`
	CreatedAt string      `json:"created_at"`
	UpdatedAt string      `json:"updated_at"`
	KeyID     string      `json:"key_id"`
	ExpiresAt string      `json:"expires_at"`
	Creator   userInfoRef `json:"creator"`
	RoleID    string      `json:"role_id"`
}

type userInfoRef struct {
	UserID string `json:"user_id"`
	OrgID  string `json:"org_id"`
}

// getAPIKeys lists only the keys the caller may see; never their secrets.
func (s *Server) getAPIKeys(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	keys, err := s.store.ListAPIKeys(ctx, st.org.ID)
	if err != nil {
		return err
	}
	out := []apiKeyInstance{}
	for _, k := range keys {
		if !auth.Allowed(st.principal.Grants, auth.OrganizationGetAPIKey, auth.Attributes{"org_id": k.OrgID, "key_id": k.KeyID}) {
			continue
		}
		out = append(out, apiKeyInstance{
			ID: k.ID, Name: k.Name, OrgID: k.OrgID, CreatedAt: apiTime(k.CreatedAt), UpdatedAt: apiTime(k.UpdatedAt),
			KeyID: k.KeyID, ExpiresAt: apiTime(k.ExpiresAt), Creator: userInfoRef{UserID: k.CreatorUserID, OrgID: k.CreatorOrgID},
			RoleID: k.RoleID,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": out})
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	keyID := mux.Vars(r)["api_key_id"]
	if err := st.allow(auth.OrganizationDeleteAPIKey, auth.Attributes{"org_id": st.org.ID, "key_id": keyID}); err != nil {
		return err
	}
	err := s.store.DeleteAPIKey(ctx, st.org.ID, keyID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted_key_id": keyID})
	return nil
}
