package store

import (
	"errors"
	"fmt"
)

// Sentinel errors, for errors.Is. The store never returns them bare: a
// missing record is always a *NotFoundError, a collision a *ConflictError.
var (
	// ErrNotFound means the record does not exist in the caller's organization.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the write collides with an existing record.
	ErrConflict = errors.New("conflict")
)

// Rule names a rule a refused write broke.
type Rule string

// The rules the store enforces. Each says which fields of a Refusal it
// fills.
const (
	// RuleLimit: Of names what is counted (e.g. "API keys"), Limit the most allowed.
	RuleLimit Rule = "limit"
	// RuleUnfinishedConversation: the user already has an unfinished
	// conversation with the service.
	RuleUnfinishedConversation Rule = "unfinished conversation"
	// RuleFinished: the conversation ID is already finished.
	RuleFinished Rule = "finished"
	// RuleNameTaken: a live record of Kind is already named Name (a
	// user's name is its email).
	RuleNameTaken Rule = "name taken"
	// RuleIDTaken: a record of Kind with ID already exists.
	RuleIDTaken Rule = "ID taken"
	// RuleNextVersion: Kind ID's next version is Next, not Want.
	RuleNextVersion Rule = "next version"
	// RuleFixedVersionSet: version set Name cannot be changed.
	RuleFixedVersionSet Rule = "fixed version set"
	// RulePermanentVersionSet: version set Name cannot be deleted.
	RulePermanentVersionSet Rule = "permanent version set"
	// RuleVariableRequired: variable Name is required by a live version.
	RuleVariableRequired Rule = "variable required"
	// RuleNoVariable: variable Name (of Kind) does not exist.
	RuleNoVariable Rule = "no variable"
	// RuleVariableExists: variable Name already exists.
	RuleVariableExists Rule = "variable exists"
	// RuleNameResting: variable Name was deleted less than Wait ago.
	RuleNameResting Rule = "name resting"
	// RuleDeleted: Kind ID is already deleted.
	RuleDeleted Rule = "deleted"
	// RuleRetired: Kind ID is deleted, so it cannot be used for anything
	// new (a deleted metric cannot be evaluated).
	RuleRetired Rule = "retired"
	// RuleUnfinishedRun: the user has an unfinished run of unit test set ID.
	RuleUnfinishedRun Rule = "unfinished run"
	// RuleNotInProgress: run ID is completed or already cancelled.
	RuleNotInProgress Rule = "not in progress"
	// RuleNoInteractions: conversation ID has no interactions to judge.
	RuleNoInteractions Rule = "no interactions"
	// RuleInUse: Kind ID is used by the active services Others.
	RuleInUse Rule = "in use"
	// RuleCriterionType: a success criterion of type Of names metric ID,
	// whose value type is Name.
	RuleCriterionType Rule = "criterion type"
	// RuleRotatedRecently: Kind ID's secret was rotated less than Wait ago.
	RuleRotatedRecently Rule = "rotated recently"
	// RuleFixedType: Kind ID's value type is Name and cannot change.
	RuleFixedType Rule = "fixed type"
	// RuleBusy: Kind ID changed while the write was being prepared (another
	// interaction of the conversation committed first).
	RuleBusy Rule = "busy"
)

// Refusal says what rule a write broke and about what, as facts; http/
// words it for the client.
type Refusal struct {
	Rule   Rule
	Kind   Kind
	ID     string
	Name   string
	Of     string
	Limit  int
	Next   int
	Want   int
	Wait   string
	Others []string
}

// RuleError is a write refused by a business rule (a limit reached, a name
// that does not exist): 400. A rule broken by a record the request refers
// to only indirectly (a pinned version that does not exist) carries that
// record in Missing instead.
type RuleError struct {
	Refusal
	Missing *NotFoundError
}

func (e *RuleError) Error() string {
	if e.Missing != nil {
		return e.Missing.Error()
	}
	return e.Refusal.String()
}

// ConflictError is a write that collides with the state of a record: 409.
type ConflictError struct{ Refusal }

func (e *ConflictError) Error() string { return e.Refusal.String() }

// Is makes errors.Is(err, ErrConflict) hold for a *ConflictError.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// String is for logs, not clients.
func (r Refusal) String() string {
	return fmt.Sprintf("store: refused (%s) %s %s%s", r.Rule, r.Kind, r.ID, r.Name)
}

// Kind names a kind of record in a *NotFoundError.
type Kind string

// The kinds of record a *NotFoundError can name.
const (
	KindOrganization       Kind = "organization"
	KindUser               Kind = "user"
	KindRole               Kind = "role"
	KindAPIKey             Kind = "API key"
	KindTool               Kind = "tool"
	KindAgent              Kind = "agent"
	KindStateMachine       Kind = "service hierarchical state machine"
	KindService            Kind = "service"
	KindVersionSet         Kind = "version set"
	KindConversation       Kind = "conversation"
	KindDynamicBehaviorSet Kind = "dynamic behavior set"
	KindSetting            Kind = "setting"
	KindToolVariable       Kind = "environment variable"
	KindUserVariable       Kind = "variable"
	KindBlob               Kind = "message source"
	KindMetric             Kind = "metric"
	KindSignInLink         Kind = "sign-in link"
)

// NotFoundError is the one form "not found" takes: which record is
// missing, as facts rather than words. The API's wording is chosen from
// them in http/. errors.Is(err, ErrNotFound) holds for it.
type NotFoundError struct {
	Kind Kind
	// ID is the record's ID, or its name where it is looked up by name.
	ID string
	// More are further records of the same kind missing from one request.
	More []string
	// Owner is the record the missing one belongs to (a version set's
	// service), when it is looked up within one.
	Owner *NotFoundError
	// Version, when set, is a version the record lacks; the record itself
	// exists. NoVersions says it has no version at all yet.
	Version    string
	NoVersions bool
	// Deprecated says the record exists but is deprecated, which counts
	// as missing for whoever refers to it.
	Deprecated bool
}

func (e *NotFoundError) Error() string {
	s := "store: " + string(e.Kind) + " " + e.ID
	switch {
	case e.Deprecated:
		s += " is deprecated"
	case e.NoVersions:
		s += " has no versions"
	case e.Version != "":
		s += " has no version " + e.Version
	default:
		s += " not found"
	}
	if e.Owner != nil {
		s += " in " + string(e.Owner.Kind) + " " + e.Owner.ID
	}
	return s
}

// Is makes errors.Is(err, ErrNotFound) hold for a *NotFoundError.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// missing is the *NotFoundError of a record that does not exist.
func missing(k Kind, id string) *NotFoundError { return &NotFoundError{Kind: k, ID: id} }
