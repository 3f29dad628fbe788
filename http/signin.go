package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// signInWithAPIKey exchanges an API key for a token for one of the
// organization's users. Every failure is the same 401, so a caller learns
// nothing about which part was wrong.
func (s *Server) signInWithAPIKey(w http.ResponseWriter, r *http.Request) error {
	token, exp, err := s.signInWithKey(r.Context(), state(r.Context()).org.ID,
		r.Header.Get("x-api-key-id"), r.Header.Get("x-api-key"), r.Header.Get("x-user-id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id_token": token, "expires_at": apiTime(exp)})
	return nil
}

// signInWithKey issues a token for a user of the organization to a holder
// of one of its API keys.
func (s *Server) signInWithKey(ctx context.Context, orgID, keyID, secret, userID string) (string, time.Time, error) {
	denied := unauthorized("API key not found, is incorrect, or the requested user is not found.")
	key, err := s.store.GetAPIKey(ctx, orgID, keyID)
	if errors.Is(err, store.ErrNotFound) {
		auth.VerifySecret(secret, s.decoyHash)
		return "", time.Time{}, denied
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if !auth.VerifySecret(secret, key.SecretHash) || !key.ExpiresAt.After(s.now()) {
		return "", time.Time{}, denied
	}
	user, err := s.store.GetUser(ctx, orgID, userID)
	if errors.Is(err, store.ErrNotFound) {
		return "", time.Time{}, denied
	}
	if err != nil {
		return "", time.Time{}, err
	}
	keyRole, err := s.store.GetRole(ctx, orgID, key.RoleID)
	if err != nil {
		return "", time.Time{}, err
	}
	userRole, err := s.store.GetRole(ctx, orgID, user.RoleID)
	if err != nil {
		return "", time.Time{}, err
	}
	// A key signs in only users whose role it covers.
	if !auth.Covers(keyRole.PermissionGrants, userRole.PermissionGrants) {
		return "", time.Time{}, denied
	}
	return s.tokens.Issue(auth.Claims{OrgID: orgID, UserID: user.ID, KeyID: key.KeyID, ExpiresAt: key.ExpiresAt})
}
