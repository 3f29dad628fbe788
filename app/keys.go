package app

import (
	"context"
	"fmt"
	"time"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// MintAPIKey creates an API key for a user of any organization in st, outside
// the API: it is how an operator gets the first key of an organization made
// with create-organization. roleName "" gives the key the user's own role.
// The secret is in the returned credentials only.
func MintAPIKey(ctx context.Context, st *store.Store, org, userID, roleName, name string, expires time.Time) (Credentials, error) {
	return mintAPIKey(ctx, st, auth.StandardHashCost, org, userID, roleName, name, expires)
}

// MintAPIKey is the package's MintAPIKey on a's store, hashing as a's
// configuration says (cheaply for test fixtures).
func (a *App) MintAPIKey(ctx context.Context, org, userID, roleName, name string, expires time.Time) (Credentials, error) {
	return mintAPIKey(ctx, a.Store, a.cfg.keyHashCost(), org, userID, roleName, name, expires)
}

func mintAPIKey(ctx context.Context, st *store.Store, cost auth.HashCost, org, userID, roleName, name string, expires time.Time) (Credentials, error) {
	u, err := st.GetUser(ctx, org, userID)
	if err != nil {
		return Credentials{}, fmt.Errorf("user %s in organization %s: %w", userID, org, err)
	}
	roleID := u.RoleID
	if roleName != "" {
		r, err := st.GetRoleByName(ctx, org, roleName)
		if err != nil {
			return Credentials{}, fmt.Errorf("role %s: %w", roleName, err)
		}
		roleID = r.ID
	}
	keyID, secret := auth.NewAPIKey()
	hash, err := cost.Hash(secret)
	if err != nil {
		return Credentials{}, err
	}
	k, err := st.CreateAPIKey(ctx, store.APIKey{KeyID: keyID, OrgID: org, Name: &name, SecretHash: hash, RoleID: roleID,
		CreatorUserID: u.ID, CreatorOrgID: org, ExpiresAt: expires})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Organization: org, UserID: u.ID, APIKeyID: k.KeyID, APIKey: secret}, nil
}
