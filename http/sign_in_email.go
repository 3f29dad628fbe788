package httpapi

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/mail"
	"github.com/compadre-dev/compadre/store"
)

// Sign-in by email: a link mailed to a user, exchanged once for a token.
// See DECISIONS.md, "How does sign-in by email work?".

// signInLinkTTL is how long a mailed link can be exchanged.
const signInLinkTTL = 15 * time.Minute

// The limits of sign-in-with-email. The reference documents none, but an
// operation anyone may call that sends mail needs them: per email, so no
// one's inbox can be flooded, and per client address, so no client can
// write rows or mail without end. Neither depends on whether the email is
// a user's. See DECISIONS.md, "How is sign-in-with-email rate-limited?".
const (
	signInPerEmail       = 5
	signInPerEmailPeriod = 15 * time.Minute
	signInPerClient      = 20
)

type signInWithEmailRequest struct {
	RedirectLink string `json:"redirect_link"`
	Email        string `json:"email"`
}

// signInWithEmail records a sign-in link for the email and answers {}. It
// does the same work whether or not the email is a verified user's, and
// is not even told which: the store names the user in the link if there
// is one, and the mail sender mails only links that name one, after the
// answer. So neither the answer nor its timing says whether the email
// belongs to a user.
func (s *Server) signInWithEmail(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req signInWithEmailRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	// Depends on the link alone, so a 400 says nothing of the email.
	if err := s.redirects.Check(req.RedirectLink); err != nil {
		return badRequest(redirectRefusal(err))
	}
	email := asciiLower(req.Email)
	err := s.limits.allowOwn(
		ownLimit{key: "sign-in-with-email\x00client\x00" + st.org.ID + "\x00" + rateLimitSubject(r, st),
			n: signInPerClient, period: time.Minute,
			detail: "The client has exceeded the rate limit of " + strconv.Itoa(signInPerClient) +
				" requests per minute for this endpoint."},
		ownLimit{key: "sign-in-with-email\x00email\x00" + st.org.ID + "\x00" + email,
			n: signInPerEmail, period: signInPerEmailPeriod,
			detail: "The email has exceeded the rate limit of " + strconv.Itoa(signInPerEmail) + " sign-in links per " +
				strconv.Itoa(int(signInPerEmailPeriod.Minutes())) + " minutes."},
	)
	if err != nil {
		return err
	}
	id := store.NewID()
	err = s.store.CreateSignInLink(ctx, store.NewSignInLink{ID: id, OrgID: st.org.ID, Email: email,
		TokenHash: auth.HashSignInToken(s.signInLinks.Token(id)), RedirectLink: req.RedirectLink,
		TTL: signInLinkTTL})
	if err != nil {
		return err
	}
	s.mailer.Notify()
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// asciiLower lowercases the ASCII letters of an email only, as the users
// table compares emails (SQLite's NOCASE), so a link finds the user whose
// email differs from it in the case of those letters alone.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// redirectRefusal words why a redirect link is refused.
func redirectRefusal(err error) string {
	switch {
	case errors.Is(err, mail.ErrRedirectCredentials):
		return "The redirect link must not carry credentials."
	case errors.Is(err, mail.ErrRedirectCarriesToken):
		return "The redirect link must not carry a " + mail.SignInTokenParam + " parameter."
	case errors.Is(err, mail.ErrRedirectOrigin):
		return "The redirect link's origin is not allowed: it must be this server's, a loopback address, " +
			"or one the server was started with (--sign-in-redirects)."
	}
	return "The redirect link must be an absolute http or https URL."
}

type signInWithEmailLinkRequest struct {
	SignInToken string `json:"sign_in_token"`
}

// signInWithEmailLink exchanges the token of a mailed link for a token for
// its user, answering as sign-in-with-api-key does. A link works once,
// until it expires, and only while its user still exists; every failure is
// the same 401.
func (s *Server) signInWithEmailLink(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req signInWithEmailLinkRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	var token string
	var exp time.Time
	err := s.store.ExchangeSignInLink(ctx, st.org.ID, auth.HashSignInToken(req.SignInToken),
		func(linkID, userID string) (time.Time, error) {
			var err error
			token, exp, err = s.tokens.Issue(auth.Claims{OrgID: st.org.ID, UserID: userID, LinkID: linkID})
			return exp, err
		})
	if errors.Is(err, store.ErrNotFound) {
		return unauthorized("The sign-in link is unknown, expired or already used.")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"id_token": token, "expires_at": apiTime(exp)})
	return nil
}
