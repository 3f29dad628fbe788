package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Setting returns the value of a server-wide setting, or a *NotFoundError.
func (s *Store) Setting(ctx context.Context, name string) (string, error) {
	const q = `SELECT value FROM settings WHERE name = ?`
	var v string
	err := s.read.QueryRowContext(ctx, q, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", missing(KindSetting, name)
	}
	if err != nil {
		return "", fmt.Errorf("store: setting %s: %w", name, err)
	}
	return v, nil
}

func putSetting(ctx context.Context, tx *sql.Tx, name, value string) error {
	const q = `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`
	if _, err := tx.ExecContext(ctx, q, name, value); err != nil {
		return fmt.Errorf("store: put setting %s: %w", name, err)
	}
	return nil
}
