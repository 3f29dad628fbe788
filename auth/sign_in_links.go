package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// SignInLinks makes the tokens of sign-in links. A link's token is derived
// from the link's random ID under a key only the server holds, so neither
// the token nor anything that opens it is ever stored: the database keeps
// its hash, and the mail sender derives it again when it composes the mail,
// after a restart too. See DECISIONS.md, "How does sign-in by email work?".
type SignInLinks struct{ key []byte }

// signInLinkKeyLabel separates the links' key from the token-signing key it
// is derived from.
const signInLinkKeyLabel = "compadre sign-in link tokens"

// NewSignInLinks derives the links' key from the token-signing key.
func NewSignInLinks(signingKey []byte) *SignInLinks {
	mac := hmac.New(sha256.New, signingKey)
	mac.Write([]byte(signInLinkKeyLabel))
	return &SignInLinks{key: mac.Sum(nil)}
}

// Token returns the token of the link with the given ID: 32 bytes, as 43
// characters of unpadded base64url.
func (l *SignInLinks) Token(linkID string) string {
	mac := hmac.New(sha256.New, l.key)
	mac.Write([]byte(linkID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// HashSignInToken is what the database keeps of a token: its SHA-256 in
// lowercase hex. A token carries 256 bits, so a plain hash cannot be
// reversed by guessing.
func HashSignInToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
