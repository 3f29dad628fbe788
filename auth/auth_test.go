package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/compadre-dev/compadre/store"
)

func grant(perm Permission, conds map[string]store.Condition) store.PermissionGrant {
	return store.PermissionGrant{PermissionName: string(perm), Conditions: conds}
}

func TestAllowed(t *testing.T) {
	own := map[string]store.Condition{"user_id": {Type: "Equals", Value: "u1"}}
	tests := []struct {
		name   string
		grants []store.PermissionGrant
		attrs  Attributes
		want   bool
	}{
		{"unconditional", []store.PermissionGrant{grant(UserGetUserInfo, nil)}, Attributes{"user_id": "u9"}, true},
		{"other permission", []store.PermissionGrant{grant(UserGetUserModel, nil)}, Attributes{}, false},
		{"no grants", nil, Attributes{}, false},
		{"equals holds", []store.PermissionGrant{grant(UserGetUserInfo, own)}, Attributes{"user_id": "u1"}, true},
		{"equals fails", []store.PermissionGrant{grant(UserGetUserInfo, own)}, Attributes{"user_id": "u2"}, false},
		{"attribute absent", []store.PermissionGrant{grant(UserGetUserInfo, own)}, Attributes{}, false},
		{"not equals", []store.PermissionGrant{grant(UserGetUserInfo, map[string]store.Condition{"user_id": {Type: "NotEquals", Value: "u1"}})}, Attributes{"user_id": "u2"}, true},
		{"in", []store.PermissionGrant{grant(UserGetUserInfo, map[string]store.Condition{"user_id": {Type: "In", Values: []any{"u1", "u2"}}})}, Attributes{"user_id": "u2"}, true},
		{"in fails", []store.PermissionGrant{grant(UserGetUserInfo, map[string]store.Condition{"user_id": {Type: "In", Values: []any{"u1"}}})}, Attributes{"user_id": "u3"}, false},
		{"numbers compare across types", []store.PermissionGrant{grant(UserGetUserInfo, map[string]store.Condition{"n": {Type: "Equals", Value: float64(3)}})}, Attributes{"n": 3}, true},
		{"unknown condition type never holds", []store.PermissionGrant{grant(UserGetUserInfo, map[string]store.Condition{"user_id": {Type: "Like", Value: "u1"}})}, Attributes{"user_id": "u1"}, false},
		{"any grant suffices", []store.PermissionGrant{grant(UserGetUserInfo, own), grant(UserGetUserInfo, nil)}, Attributes{"user_id": "u2"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Allowed(tc.grants, UserGetUserInfo, tc.attrs); got != tc.want {
				t.Errorf("Allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	own := map[string]store.Condition{"user_id": {Type: "Equals", Value: "u1"}}
	tests := []struct {
		name         string
		held, wanted []store.PermissionGrant
		want         bool
	}{
		{"equal sets", []store.PermissionGrant{grant(UserGetUserInfo, nil)}, []store.PermissionGrant{grant(UserGetUserInfo, nil)}, true},
		{"superset", []store.PermissionGrant{grant(UserGetUserInfo, nil), grant(UserDeleteUser, nil)}, []store.PermissionGrant{grant(UserGetUserInfo, nil)}, true},
		{"missing permission", []store.PermissionGrant{grant(UserGetUserInfo, nil)}, []store.PermissionGrant{grant(UserDeleteUser, nil)}, false},
		{"unconditional covers conditional", []store.PermissionGrant{grant(UserGetUserInfo, nil)}, []store.PermissionGrant{grant(UserGetUserInfo, own)}, true},
		{"conditional does not cover unconditional", []store.PermissionGrant{grant(UserGetUserInfo, own)}, []store.PermissionGrant{grant(UserGetUserInfo, nil)}, false},
		{"same condition", []store.PermissionGrant{grant(UserGetUserInfo, own)}, []store.PermissionGrant{grant(UserGetUserInfo, own)}, true},
		{"nothing wanted", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Covers(tc.held, tc.wanted); got != tc.want {
				t.Errorf("Covers = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBuiltinRoles(t *testing.T) {
	roles := map[string]store.Role{}
	for _, r := range BuiltinRoles() {
		roles[r.Name] = r
		for _, g := range r.PermissionGrants {
			if !Known(Permission(g.PermissionName)) {
				t.Errorf("%s grants unknown permission %s", r.Name, g.PermissionName)
			}
		}
	}
	super := roles[DefaultSuperAdministratorRole].PermissionGrants
	if len(super) != len(AllPermissions) {
		t.Errorf("super administrator holds %d permissions, want all %d", len(super), len(AllPermissions))
	}
	for _, name := range []string{DefaultUserRole, DefaultAdministratorRole, DefaultAmigoAdministratorRole} {
		if !Covers(super, roles[name].PermissionGrants) {
			t.Errorf("super administrator does not cover %s", name)
		}
	}
	if Covers(roles[DefaultAdministratorRole].PermissionGrants, super) {
		t.Error("administrator covers super administrator")
	}
	if Allowed(roles[DefaultUserRole].PermissionGrants, UserDeleteUser, Attributes{AttrOrgID: "o", AttrUserID: "u"}) {
		t.Error("a plain user may delete users")
	}
}

func TestTokens(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tok := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour, clock)
	claims := Claims{OrgID: "o", UserID: "u", KeyID: "k"}

	s, exp, err := tok.Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("expiry %v, want an hour on", exp)
	}
	got, err := tok.Verify(s)
	if err != nil || got.OrgID != "o" || got.UserID != "u" || got.KeyID != "k" {
		t.Fatalf("verify: %+v, %v", got, err)
	}

	short, exp, _ := tok.Issue(Claims{OrgID: "o", UserID: "u", KeyID: "k", ExpiresAt: now.Add(time.Minute)})
	if !exp.Equal(now.Add(time.Minute)) {
		t.Errorf("token outlives its key: expiry %v", exp)
	}
	other := NewTokens([]byte("another key, another key, 32 byt"), time.Hour, clock)
	tests := []struct {
		name  string
		token string
		tok   *Tokens
		at    time.Time
	}{
		{"expired", s, tok, now.Add(time.Hour + time.Second)},
		{"key expired", short, tok, now.Add(time.Minute + time.Second)},
		{"wrong signing key", s, other, now},
		{"tampered", s[:len(s)-2] + "xx", tok, now},
		{"not a token", "abc", tok, now},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now = tc.at
			defer func() { now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }()
			if _, err := tc.tok.Verify(tc.token); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("got %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func TestHashCosts(t *testing.T) {
	tests := []struct {
		name       string
		cost       HashCost
		wantParams string
	}{
		{"standard", StandardHashCost, "m=19456,t=2,p=1"},
		{"fixture", FixtureHashCost, "m=8,t=1,p=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, secret := NewAPIKey()
			hash, err := tc.cost.Hash(secret)
			if err != nil {
				t.Fatal(err)
			}
			// The settings travel with the hash, so a server verifies keys
			// hashed at either cost.
			if got := strings.Split(hash, "$")[3]; got != tc.wantParams {
				t.Errorf("hash settings %s, want %s", got, tc.wantParams)
			}
			if !VerifySecret(secret, hash) {
				t.Error("VerifySecret rejects the secret it hashed")
			}
			if VerifySecret(secret+"x", hash) {
				t.Error("VerifySecret accepts a wrong secret")
			}
			decoy := tc.cost.Decoy()
			// A decoy that failed to decode would be rejected at once, and
			// an unknown key ID would answer faster than a wrong secret.
			if _, _, _, err := argon2id.DecodeHash(decoy); err != nil {
				t.Fatalf("decoy %q does not decode: %v", decoy, err)
			}
			if got := strings.Split(decoy, "$")[3]; got != tc.wantParams {
				t.Errorf("decoy settings %s, want %s", got, tc.wantParams)
			}
			if len(decoy) != len(hash) {
				t.Errorf("decoy %q is %d characters, a hash %d", decoy, len(decoy), len(hash))
			}
			for _, s := range []string{secret, "", "decoy"} {
				if VerifySecret(s, decoy) {
					t.Errorf("the decoy matches %q", s)
				}
			}
		})
	}
}

func TestSecretsAndSealing(t *testing.T) {
	_, secret := NewAPIKey()
	hash, err := HashSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifySecret(secret, hash) || VerifySecret(secret+"x", hash) || VerifySecret(secret, "garbage") {
		t.Error("VerifySecret accepts the wrong thing or rejects the right one")
	}

	s, err := NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("hunter2"), "user/a/token")
	if plain, err := s.Open(sealed, "user/a/token"); err != nil || string(plain) != "hunter2" {
		t.Errorf("open: %q, %v", plain, err)
	}
	if _, err := s.Open(sealed, "user/b/token"); err == nil {
		t.Error("a sealed value opened under another label")
	}
	first, second := s.Seal([]byte("hunter2"), "l"), s.Seal([]byte("hunter2"), "l")
	if string(first) == string(second) {
		t.Error("sealing is deterministic: the nonce is not fresh")
	}
}

// A token names the API key or the sign-in link it was issued with, exactly
// one of them.
func TestTokensOfSignInLinks(t *testing.T) {
	tok := NewTokens([]byte("0123456789abcdef0123456789abcdef"), time.Hour, time.Now)
	s, _, err := tok.Issue(Claims{OrgID: "o", UserID: "u", LinkID: "l"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tok.Verify(s); err != nil || got.LinkID != "l" || got.KeyID != "" {
		t.Fatalf("verify: %+v, %v", got, err)
	}
	for name, c := range map[string]Claims{
		"neither": {OrgID: "o", UserID: "u"},
		"both":    {OrgID: "o", UserID: "u", KeyID: "k", LinkID: "l"},
	} {
		s, _, err := tok.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tok.Verify(s); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrUnauthenticated", name, err)
		}
	}
}

func TestSignInLinkTokens(t *testing.T) {
	a, b := NewSignInLinks([]byte("key one")), NewSignInLinks([]byte("key two"))
	tok := a.Token("0123456789abcdef01234567")
	if len(tok) != 43 || tok != a.Token("0123456789abcdef01234567") {
		t.Errorf("token %q: want 43 characters, the same each time", tok)
	}
	if tok == a.Token("0123456789abcdef01234568") || tok == b.Token("0123456789abcdef01234567") {
		t.Error("tokens of another link or under another key are the same")
	}
	if h := HashSignInToken(tok); len(h) != 64 || h == HashSignInToken(tok+"x") {
		t.Errorf("hash %q", h)
	}
}
