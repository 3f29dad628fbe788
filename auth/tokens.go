package auth

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated means credentials are missing, malformed, expired or wrong.
var ErrUnauthenticated = errors.New("unauthenticated")

const tokenIssuer = "compadre"

// Claims are what a token says about its bearer.
type Claims struct {
	OrgID  string
	UserID string
	// KeyID is the API key the token was issued with; the key must still
	// exist for the token to be honoured.
	KeyID string
	// LinkID, instead of KeyID, is the sign-in link the token was issued
	// for; the session the link opened must still last.
	LinkID    string
	ExpiresAt time.Time
}

type jwtClaims struct {
	Org  string `json:"org"`
	Key  string `json:"key,omitempty"`
	Link string `json:"lnk,omitempty"`
	jwt.RegisteredClaims
}

// Tokens issues and verifies HMAC-SHA256 signed JWTs.
type Tokens struct {
	key []byte
	ttl time.Duration
	now func() time.Time
	// verified remembers the claims of tokens already checked: a token's
	// text fixes its claims, and the key never changes, so the same text
	// verifies the same way until it expires. Decoding a token's JSON was
	// an eighth of an authenticated request's work.
	mu       sync.Mutex
	verified map[string]Claims
}

// verifiedCacheSize bounds the remembered tokens; past it, the cache
// starts over.
const verifiedCacheSize = 4096

// NewTokens returns a token issuer signing with key; tokens live for ttl.
func NewTokens(key []byte, ttl time.Duration, now func() time.Time) *Tokens {
	return &Tokens{key: key, ttl: ttl, now: now}
}

// Issue returns a signed token for c. Its expiry is the issuer's lifetime or
// c.ExpiresAt, whichever comes first (so a token never outlives its key).
func (t *Tokens) Issue(c Claims) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(exp) {
		exp = c.ExpiresAt
	}
	// JWT times have whole seconds; round down so the reported expiry is
	// exactly the one enforced.
	exp = exp.Truncate(time.Second)
	claims := jwtClaims{
		Org:  c.OrgID,
		Key:  c.KeyID,
		Link: c.LinkID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   c.UserID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks the token's signature, issuer and expiry and returns its claims.
func (t *Tokens) Verify(token string) (Claims, error) {
	t.mu.Lock()
	c, ok := t.verified[token]
	t.mu.Unlock()
	if ok && t.now().Before(c.ExpiresAt) {
		return c, nil
	}
	c, err := t.verify(token)
	if err != nil {
		return Claims{}, err
	}
	t.mu.Lock()
	if t.verified == nil || len(t.verified) >= verifiedCacheSize {
		t.verified = map[string]Claims{}
	}
	t.verified[token] = c
	t.mu.Unlock()
	return c, nil
}

func (t *Tokens) verify(token string) (Claims, error) {
	var c jwtClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	// A token names exactly one of an API key and a sign-in link.
	if c.Org == "" || c.Subject == "" || (c.Key == "") == (c.Link == "") {
		return Claims{}, fmt.Errorf("%w: incomplete token", ErrUnauthenticated)
	}
	return Claims{OrgID: c.Org, UserID: c.Subject, KeyID: c.Key, LinkID: c.Link, ExpiresAt: c.ExpiresAt.Time}, nil
}
