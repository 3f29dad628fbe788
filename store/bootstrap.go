package store

import (
	"context"
	"database/sql"
	"errors"
)

const bootstrappedSetting = "bootstrapped_org"

// BootstrappedOrg returns the organization made at first start, or
// ErrNotFound before first start has completed.
func (s *Store) BootstrappedOrg(ctx context.Context) (string, error) {
	return s.Setting(ctx, bootstrappedSetting)
}

// Bootstrap performs first start in one transaction: the organization, its
// roles, its administrator and an API key for it. beforeCommit runs inside
// the transaction with the created records, so that whatever it saves (the
// printed credentials) exists if and only if the records do.
func (s *Store) Bootstrap(ctx context.Context, n NewOrganization, key APIKey,
	beforeCommit func(org Organization, admin User, key APIKey) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var done string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, bootstrappedSetting).Scan(&done)
		if err == nil {
			return &ConflictError{Refusal{Rule: RuleIDTaken, Kind: KindSetting, ID: bootstrappedSetting}}
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		org, admin, err := s.createOrganization(ctx, tx, n)
		if err != nil {
			return err
		}
		key.OrgID, key.RoleID = org.ID, admin.RoleID
		key.CreatorUserID, key.CreatorOrgID = admin.ID, org.ID
		key, err = s.createAPIKey(ctx, tx, key)
		if err != nil {
			return err
		}
		if err := putSetting(ctx, tx, bootstrappedSetting, org.ID); err != nil {
			return err
		}
		return beforeCommit(org, admin, key)
	})
}
