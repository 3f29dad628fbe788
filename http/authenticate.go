package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/compadre-dev/compadre/store"
)

// authenticate resolves the request's credentials to a principal.
//
// A token is honoured only for the organization it was issued in: X-ORG-ID,
// when sent, must name that organization, and so must the path (except on
// authCrossOrg and authControl routes). See DECISIONS.md, "Why is X-ORG-ID not a way into
// another organization?".
func (s *Server) authenticate(r *http.Request, mode authMode, pathOrg string, st *requestState) error {
	if mode == authNone {
		return nil
	}
	token, basicName, present := credentials(r)
	if !present {
		if mode == authOptional {
			return nil
		}
		return withChallenge(unauthorized("Missing authorization credentials."))
	}
	claims, err := s.tokens.Verify(token)
	if err != nil {
		e := unauthorized("Invalid authorization credentials.")
		e.cause = err
		return withChallenge(e)
	}
	if basicName != "" && basicName != claims.OrgID+"_"+claims.UserID {
		return withChallenge(unauthorized("The user name does not match the token."))
	}
	if xorg := r.Header.Get("X-ORG-ID"); xorg != "" && xorg != claims.OrgID {
		return withChallenge(unauthorized("The token was not issued by the organization named in X-ORG-ID."))
	}
	if mode != authCrossOrg && mode != authControl && claims.OrgID != pathOrg {
		return withChallenge(unauthorized("The token was not issued for this organization."))
	}
	// A token issued for a sign-in link acts in the session the link opened.
	var p store.Principal
	if claims.LinkID != "" {
		p, err = s.store.SignInPrincipal(r.Context(), claims.OrgID, claims.UserID, claims.LinkID)
	} else {
		p, err = s.store.Principal(r.Context(), claims.OrgID, claims.UserID, claims.KeyID)
	}
	if errors.Is(err, store.ErrNotFound) {
		return withChallenge(unauthorized("The token's user, API key or sign-in session no longer exists."))
	}
	if err != nil {
		return err
	}
	if !p.KeyExpiresAt.After(s.now()) {
		return withChallenge(unauthorized("The token's API key has expired."))
	}
	st.principal = &p
	return nil
}

// credentials reads a bearer token, or the token sent as the password of
// Basic authentication (user name "{org_id}_{user_id}").
func credentials(r *http.Request) (token, basicName string, present bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", "", false
	}
	scheme, rest, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		return strings.TrimSpace(rest), "", true
	case strings.EqualFold(scheme, "Basic"):
		if name, pass, ok := r.BasicAuth(); ok && name != "" {
			return pass, name, true
		}
	}
	return "", "", true
}

func withChallenge(e *apiError) *apiError {
	if e.header == nil {
		e.header = http.Header{}
	}
	e.header.Set("WWW-Authenticate", "Bearer")
	return e
}
