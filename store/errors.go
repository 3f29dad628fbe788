package store

import "errors"

// Sentinel errors. "Not found" is always ErrNotFound, never a nil record.
var (
	// ErrNotFound means the record does not exist in the caller's organization.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write collides with an existing record.
	ErrConflict = errors.New("conflict")
)

// RuleError is a write refused by a business rule (a limit reached, a name
// that does not exist). Reason is safe to show to the caller.
type RuleError struct{ Reason string }

func (e *RuleError) Error() string { return e.Reason }

// ConflictError is ErrConflict with a reason safe to show to the caller.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrConflict) hold for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// NotFoundError is ErrNotFound naming what was missing, in words safe to
// show to the caller (e.g. `Role "Support" not found.`).
type NotFoundError struct{ Reason string }

func (e *NotFoundError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrNotFound) hold for a *NotFoundError.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }
