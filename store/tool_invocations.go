package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Invocation source types.
const (
	SourceRegularConversation    = "regular-conversation"
	SourceSimulationConversation = "simulation-conversation"
)

// ToolInvocation is the record of one run of a tool version, whether it
// succeeded or not.
type ToolInvocation struct {
	ID                  string
	OrgID               string
	ToolID              string
	VersionID           string
	Major, Minor, Patch int
	// SourceType is SourceRegularConversation or SourceSimulationConversation;
	// the pointers below are nil when the run had no such context (a tool
	// invoked directly has no conversation).
	SourceType      string
	UserID          *string
	ConversationID  *string
	InteractionID   *string
	SimulationRunID *string
	UnitTestID      *string
	RunIndex        *int
	// Metadata is the agent framework's invocation metadata, or nil.
	Metadata json.RawMessage
	// Inputs are the input parameters as given.
	Inputs           json.RawMessage
	Succeeded        bool
	Output           string
	ExceptionType    string
	ExceptionMessage string
	StackTrace       []string
	Logs             []string
	DurationMS       int64
	CreatedAt        time.Time
}

// RecordToolInvocations stores the records in one transaction, stamping
// each with an ID and the current time, and cutting its logs, stack trace
// and message to their caps (MaxInvocationLogBytes and its siblings).
func (s *Store) RecordToolInvocations(ctx context.Context, invs []ToolInvocation) ([]ToolInvocation, error) {
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for i := range invs {
			inv := &invs[i]
			inv.ID, inv.CreatedAt = NewID(), now
			capInvocation(inv)
			if inv.Logs == nil {
				inv.Logs = []string{}
			}
			logs, _ := json.Marshal(inv.Logs)
			var metadata *string
			if len(inv.Metadata) > 0 {
				m := string(inv.Metadata)
				metadata = &m
			}
			const q = `INSERT INTO tool_invocations (id, org_id, tool_id, version_id, major, minor, patch,
				source_type, user_id, conversation_id, interaction_id, simulation_run_id, unit_test_id, run_index,
				invocation_metadata, inputs, succeeded, output, exception_type, exception_message,
				exception_stack_trace, logs, duration_ms, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
			if _, err := tx.ExecContext(ctx, q, inv.ID, inv.OrgID, inv.ToolID, inv.VersionID, inv.Major, inv.Minor,
				inv.Patch, inv.SourceType, inv.UserID, inv.ConversationID, inv.InteractionID, inv.SimulationRunID,
				inv.UnitTestID, inv.RunIndex, metadata, string(inv.Inputs), inv.Succeeded, inv.Output,
				inv.ExceptionType, inv.ExceptionMessage, strings.Join(inv.StackTrace, "\n"), string(logs),
				inv.DurationMS, formatTime(now)); err != nil {
				return fmt.Errorf("store: record invocation: %w", err)
			}
		}
		return nil
	})
	return invs, err
}

const invocationColumns = `i.id, i.org_id, i.tool_id, i.version_id, i.major, i.minor, i.patch, i.source_type,
	i.user_id, i.conversation_id, i.interaction_id, i.simulation_run_id, i.unit_test_id, i.run_index,
	i.invocation_metadata, i.inputs, i.succeeded, i.output, i.exception_type, i.exception_message,
	i.exception_stack_trace, i.logs, i.duration_ms, i.created_at`

func scanInvocation(row interface{ Scan(...any) error }) (ToolInvocation, error) {
	var inv ToolInvocation
	var metadata sql.NullString
	var runIndex sql.NullInt64
	var inputs, trace, logs, created string
	err := row.Scan(&inv.ID, &inv.OrgID, &inv.ToolID, &inv.VersionID, &inv.Major, &inv.Minor, &inv.Patch,
		&inv.SourceType, &inv.UserID, &inv.ConversationID, &inv.InteractionID, &inv.SimulationRunID,
		&inv.UnitTestID, &runIndex, &metadata, &inputs, &inv.Succeeded, &inv.Output, &inv.ExceptionType,
		&inv.ExceptionMessage, &trace, &logs, &inv.DurationMS, &created)
	if err != nil {
		return ToolInvocation{}, err
	}
	if runIndex.Valid {
		n := int(runIndex.Int64)
		inv.RunIndex = &n
	}
	if metadata.Valid {
		inv.Metadata = json.RawMessage(metadata.String)
	}
	inv.Inputs = json.RawMessage(inputs)
	inv.StackTrace = []string{}
	if trace != "" {
		inv.StackTrace = strings.Split(trace, "\n")
	}
	if err := json.Unmarshal([]byte(logs), &inv.Logs); err != nil {
		return ToolInvocation{}, fmt.Errorf("invocation %s logs: %w", inv.ID, err)
	}
	if inv.CreatedAt, err = parseTime(created); err != nil {
		return ToolInvocation{}, err
	}
	return inv, nil
}

// invocationSortColumns maps the API's sort fields to columns.
var invocationSortColumns = map[string]string{
	"created_at":                  "i.created_at",
	"version.major":               "i.major",
	"version.minor":               "i.minor",
	"version.patch":               "i.patch",
	"tool_id":                     "i.tool_id",
	"invocation_source.type":      "i.source_type",
	"invocation_status.succeeded": "i.succeeded",
}

// ValidInvocationSortField reports whether ListToolInvocations can sort by
// field.
var ValidInvocationSortField = sortable(invocationSortColumns)

// VersionRef names one version of one tool.
type VersionRef struct {
	ToolID              string
	Major, Minor, Patch int
}

// InvocationFilter selects invocations. Empty slices and nil pointers do not
// filter, except Versions: non-nil and empty matches nothing (a version
// constraint that no version satisfies).
type InvocationFilter struct {
	ToolIDs         []string
	Versions        []VersionRef
	SourceTypes     []string
	ConversationIDs []string
	RunIDs          []string
	Succeeded       *bool
	Sort            []SortKey
	// Limit < 0 means no limit.
	Limit  int
	Offset int
}

func (f InvocationFilter) where(orgID string) (string, []any) {
	var b strings.Builder
	args := []any{orgID}
	b.WriteString(`i.org_id = ?`)
	args = andIn(&b, args, "i.tool_id", f.ToolIDs)
	args = andIn(&b, args, "i.source_type", f.SourceTypes)
	args = andIn(&b, args, "i.conversation_id", f.ConversationIDs)
	args = andIn(&b, args, "i.simulation_run_id", f.RunIDs)
	if f.Versions != nil {
		if len(f.Versions) == 0 {
			b.WriteString(` AND 0`)
		} else {
			terms := make([]string, len(f.Versions))
			for k, v := range f.Versions {
				terms[k] = `(i.tool_id = ? AND i.major = ? AND i.minor = ? AND i.patch = ?)`
				args = append(args, v.ToolID, v.Major, v.Minor, v.Patch)
			}
			b.WriteString(` AND (` + strings.Join(terms, " OR ") + `)`)
		}
	}
	if f.Succeeded != nil {
		b.WriteString(` AND i.succeeded = ?`)
		args = append(args, *f.Succeeded)
	}
	return b.String(), args
}

// ListToolInvocations returns the organization's invocations matching f in
// f.Sort order (newest first unless sorted otherwise), and whether more
// follow the page.
func (s *Store) ListToolInvocations(ctx context.Context, orgID string, f InvocationFilter) ([]ToolInvocation, bool, error) {
	where, args := f.where(orgID)
	order, err := orderBy(f.Sort, invocationSortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list invocations: %w", err)
	}
	order = append(order, "i.created_at DESC", "i.rowid DESC")
	q := `SELECT ` + invocationColumns + ` FROM tool_invocations i WHERE ` + where + ` ORDER BY ` + strings.Join(order, ", ")
	if f.Limit >= 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit+1, f.Offset)
	}
	invs, err := s.queryInvocations(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list invocations: %w", err)
	}
	more := false
	if f.Limit >= 0 && len(invs) > f.Limit {
		invs, more = invs[:f.Limit], true
	}
	return invs, more, nil
}

// Searchable invocation fields, as the API names them, and their columns in
// the full-text index.
var invocationSearchColumns = map[string]string{
	"invocation_status.output":                "output",
	"invocation_status.exception_type":        "exception_type",
	"invocation_status.exception_message":     "exception_message",
	"invocation_status.exception_stack_trace": "exception_stack_trace",
}

// MaxSearchResults caps SearchToolInvocations, whose answer is not paged.
const MaxSearchResults = 100

// SearchToolInvocations returns up to MaxSearchResults invocations matching
// f whose indexed text contains every word of query, best match first.
// fields restricts the search to those API fields; empty searches the
// output, the exception's type, message and stack trace, and the logs.
func (s *Store) SearchToolInvocations(ctx context.Context, orgID, query string, fields []string, f InvocationFilter) ([]ToolInvocation, error) {
	match := ftsQuery(query)
	if match == "" {
		return []ToolInvocation{}, nil
	}
	if len(fields) > 0 {
		cols := make([]string, 0, len(fields))
		for _, field := range fields {
			col, ok := invocationSearchColumns[field]
			if !ok {
				return nil, fmt.Errorf("store: search invocations: unknown field %q", field)
			}
			cols = append(cols, col)
		}
		match = `{` + strings.Join(cols, " ") + `} : (` + match + `)`
	}
	where, args := f.where(orgID)
	q := `SELECT ` + invocationColumns + ` FROM tool_invocations_fts
		JOIN tool_invocations i ON i.rowid = tool_invocations_fts.rowid
		WHERE tool_invocations_fts MATCH ? AND ` + where + ` ORDER BY tool_invocations_fts.rank, i.created_at DESC
		LIMIT ?`
	args = append([]any{match}, args...)
	args = append(args, MaxSearchResults)
	invs, err := s.queryInvocations(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: search invocations: %w", err)
	}
	return invs, nil
}

// ftsQuery turns free text into an FTS5 query matching every word: each
// whitespace-separated word becomes a quoted phrase, so the query language's
// operators and punctuation in the text are taken literally. A NUL would
// end the query inside FTS5's parser, so it separates words like a space
// (the tokenizer splits indexed text on it too).
func ftsQuery(text string) string {
	words := strings.Fields(strings.ReplaceAll(text, "\x00", " "))
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(words, " ")
}

func (s *Store) queryInvocations(ctx context.Context, q string, args ...any) ([]ToolInvocation, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	invs := []ToolInvocation{}
	for rows.Next() {
		inv, err := scanInvocation(rows)
		if err != nil {
			return nil, err
		}
		invs = append(invs, inv)
	}
	return invs, rows.Err()
}

// invocationDeleteBatch is how many records DeleteToolInvocationsBefore
// deletes per statement, so the one writer connection is never held for
// long by a sweep.
const invocationDeleteBatch = 1000

// DeleteToolInvocationsBefore deletes every organization's invocation
// records created before t, with their full-text index entries (a trigger
// keeps the index in step), and returns how many it deleted.
func (s *Store) DeleteToolInvocationsBefore(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		const q = `DELETE FROM tool_invocations WHERE rowid IN
			(SELECT rowid FROM tool_invocations WHERE created_at < ? LIMIT ?)`
		res, err := s.write.ExecContext(ctx, q, formatTime(t), invocationDeleteBatch)
		if err != nil {
			return total, fmt.Errorf("store: delete invocations: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: delete invocations: %w", err)
		}
		total += n
		if n < invocationDeleteBatch {
			return total, nil
		}
	}
}
