package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// PromptLogRetention is how long prompt logs are kept: get-prompt-logs
// serves only those of the past 30 days, so older ones are of no use. See
// DECISIONS.md, "Which prompt logs does get-prompt-logs download, and who
// may read each?".
const PromptLogRetention = 30 * 24 * time.Hour

// promptLogPage is how many prompt logs EachPromptLog reads at a time: a
// page is read whole before it is handed on, so a slow reader of the
// logs never holds one of the few read connections for long.
const promptLogPage = 100

// promptLogDeleteBatch bounds each delete of PrunePromptLogs, so the one
// writer is never held long.
const promptLogDeleteBatch = 1000

// A key range selects the keys that start with a prefix, and lets SQLite
// walk the (org_id, key) index: under the binary collation every key
// starting with ?2 sorts at or after it and before ?2 followed by the
// byte 0xFF, which UTF-8 text never holds.
const promptLogRange = `org_id = ?1 AND key >= ?2 AND key < ?2 || CAST(x'ff' AS TEXT) AND created_at >= ?3`

// CountPromptLogs returns how many of the organization's prompt logs
// created at or after since have a key starting with prefix.
func (s *Store) CountPromptLogs(ctx context.Context, orgID, prefix string, since time.Time) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM prompt_logs WHERE `+promptLogRange,
		orgID, prefix, formatTime(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: count prompt logs: %w", err)
	}
	return n, nil
}

// EachPromptLog calls fn with each of the organization's prompt logs
// created at or after since whose key starts with prefix, in key order,
// at most limit of them, and stops at the first error fn returns. Logs
// are read a page at a time, and no database connection is held while
// fn runs.
func (s *Store) EachPromptLog(ctx context.Context, orgID, prefix string, since time.Time, limit int,
	fn func(PromptLog) error) error {
	const columns = `SELECT key, conversation_id, interaction_id, purpose, model, prompt, completion, error, created_at
		FROM prompt_logs WHERE ` + promptLogRange
	scan := func(row interface{ Scan(...any) error }) (PromptLog, error) {
		p := PromptLog{OrgID: orgID}
		var prompt, created string
		if err := row.Scan(&p.Key, &p.ConversationID, &p.InteractionID, &p.Purpose, &p.Model, &prompt,
			&p.Completion, &p.Error, &created); err != nil {
			return PromptLog{}, err
		}
		p.Prompt = json.RawMessage(prompt)
		var err error
		p.CreatedAt, err = parseTime(created)
		return p, err
	}
	var last *string
	for seen := 0; seen < limit; {
		n := min(promptLogPage, limit-seen)
		var page []PromptLog
		var err error
		if last == nil {
			page, err = queryAll(ctx, s.read, scan, columns+` ORDER BY key LIMIT ?4`, orgID, prefix, formatTime(since), n)
		} else {
			page, err = queryAll(ctx, s.read, scan, columns+` AND key > ?4 ORDER BY key LIMIT ?5`, orgID, prefix,
				formatTime(since), *last, n)
		}
		if err != nil {
			return fmt.Errorf("store: prompt logs: %w", err)
		}
		for _, p := range page {
			if err := fn(p); err != nil {
				return err
			}
		}
		if len(page) < n {
			return nil
		}
		seen += len(page)
		last = &page[len(page)-1].Key
	}
	return nil
}

// PrunePromptLogs deletes the prompt logs created before t, of every
// organization, and returns how many it deleted.
func (s *Store) PrunePromptLogs(ctx context.Context, t time.Time) (int64, error) {
	var total int64
	for {
		const q = `DELETE FROM prompt_logs WHERE rowid IN
			(SELECT rowid FROM prompt_logs WHERE created_at < ? LIMIT ?)`
		res, err := s.write.ExecContext(ctx, q, formatTime(t), promptLogDeleteBatch)
		if err != nil {
			return total, fmt.Errorf("store: prune prompt logs: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: prune prompt logs: %w", err)
		}
		total += n
		if n < promptLogDeleteBatch {
			return total, nil
		}
	}
}
