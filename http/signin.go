package httpapi

import (
	"errors"
	"net/http"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// signInWithAPIKey exchanges an API key for a token for one of the
// organization's users. Every failure is the same 401, so a caller learns
// nothing about which part was wrong.
func (s *Server) signInWithAPIKey(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	secret := r.Header.Get("x-api-key")
	keyID := r.Header.Get("x-api-key-id")
	userID := r.Header.Get("x-user-id")
	denied := unauthorized("API key not found, is incorrect, or the requested user is not found.")

	key, err := s.store.GetAPIKey(ctx, st.org.ID, keyID)
	if errors.Is(err, store.ErrNotFound) {
		auth.VerifySecret(secret, s.decoyHash)
		return denied
	}
	if err != nil {
		return err
	}
	if !auth.VerifySecret(secret, key.SecretHash) || !key.ExpiresAt.After(s.now()) {
		return denied
	}
	user, err := s.store.GetUser(ctx, st.org.ID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return denied
	}
	if err != nil {
		return err
	}
	keyRole, err := s.store.GetRole(ctx, st.org.ID, key.RoleID)
	if err != nil {
		return err
	}
	userRole, err := s.store.GetRole(ctx, st.org.ID, user.RoleID)
	if err != nil {
		return err
	}
	// A key signs in only users whose role it covers.
	if !auth.Covers(keyRole.PermissionGrants, userRole.PermissionGrants) {
		return denied
	}
	token, exp, err := s.tokens.Issue(auth.Claims{OrgID: st.org.ID, UserID: user.ID, KeyID: key.KeyID, ExpiresAt: key.ExpiresAt})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id_token": token, "expires_at": apiTime(exp)})
	return nil
}
