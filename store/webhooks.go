package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// KindWebhookDestination is the kind of a missing webhook destination.
const KindWebhookDestination Kind = "webhook destination"

// Webhook limits and timings the reference documents.
const (
	// MaxWebhookDestinations is how many destinations an organization may
	// have.
	MaxWebhookDestinations = 10
	// WebhookRotationInterval is the least time between two rotations of
	// a destination's secret.
	WebhookRotationInterval = time.Hour
	// WebhookDualSigning is how long the secret before a rotation still
	// signs.
	WebhookDualSigning = 30 * time.Minute
	// WebhookRetention is how long delivery records are kept.
	WebhookRetention = 30 * 24 * time.Hour
)

// Webhook delivery statuses, as the API names them. A delivery whose
// attempts have all failed so far is failed, retries left or not.
const (
	DeliverySuccess = "success"
	DeliveryFailed  = "failed"
)

// WebhookDestination is where an organization's webhook events go. Its
// secrets are sealed by the caller; the store never sees them in clear.
type WebhookDestination struct {
	ID             string
	OrgID          string
	URL            string
	AcceptedTypes  []string
	RetryAttempts  int
	Secret         []byte
	PreviousSecret []byte
	// DualSigningStopsAt, when set, is until when PreviousSecret signs
	// too.
	DualSigningStopsAt *time.Time
	SecretGeneratedAt  time.Time
	CreatedAt          time.Time
}

const webhookDestinationColumns = `r.id, r.org_id, r.url, r.accepted_types, r.retry_attempts, r.secret, r.previous_secret,
	r.dual_signing_stops_at, r.secret_generated_at, r.created_at`

func scanWebhookDestination(row interface{ Scan(...any) error }) (WebhookDestination, error) {
	var d WebhookDestination
	var types, generated, created string
	var stops *string
	if err := row.Scan(&d.ID, &d.OrgID, &d.URL, &types, &d.RetryAttempts, &d.Secret, &d.PreviousSecret, &stops,
		&generated, &created); err != nil {
		return d, err
	}
	if err := json.Unmarshal([]byte(types), &d.AcceptedTypes); err != nil {
		return d, fmt.Errorf("webhook destination %s types: %w", d.ID, err)
	}
	var err error
	if stops != nil {
		t, err := parseTime(*stops)
		if err != nil {
			return d, err
		}
		d.DualSigningStopsAt = &t
	}
	if d.SecretGeneratedAt, err = parseTime(generated); err != nil {
		return d, err
	}
	d.CreatedAt, err = parseTime(created)
	return d, err
}

// CreateWebhookDestination stores a destination; the organization's
// eleventh is a *RuleError (RuleLimit).
func (s *Store) CreateWebhookDestination(ctx context.Context, d WebhookDestination) (WebhookDestination, error) {
	now := s.now()
	if d.ID == "" {
		d.ID = NewID()
	}
	d.CreatedAt, d.SecretGeneratedAt, d.PreviousSecret, d.DualSigningStopsAt = now, now, nil, nil
	types, err := json.Marshal(nonNil(d.AcceptedTypes))
	if err != nil {
		return d, err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_destinations WHERE org_id = ?`, d.OrgID).Scan(&n); err != nil {
			return err
		}
		if n >= MaxWebhookDestinations {
			return &RuleError{Refusal{Rule: RuleLimit, Kind: KindWebhookDestination, Of: "webhook destinations",
				Limit: MaxWebhookDestinations}, nil}
		}
		const q = `INSERT INTO webhook_destinations (id, org_id, url, accepted_types, retry_attempts, secret,
			secret_generated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, q, d.ID, d.OrgID, d.URL, string(types), d.RetryAttempts, d.Secret,
			formatTime(now), formatTime(now))
		return err
	})
	if err != nil {
		return WebhookDestination{}, fmt.Errorf("store: create webhook destination: %w", err)
	}
	return d, nil
}

// ListWebhookDestinations returns the organization's destinations, those
// of ids only if there are any, oldest first.
func (s *Store) ListWebhookDestinations(ctx context.Context, orgID string, ids []string) ([]WebhookDestination, error) {
	var b strings.Builder
	b.WriteString(`r.org_id = ?`)
	args := andIn(&b, []any{orgID}, "r.id", ids)
	q := `SELECT ` + webhookDestinationColumns + ` FROM webhook_destinations r WHERE ` + b.String() +
		` ORDER BY r.created_at, r.id`
	out, err := queryAll(ctx, s.read, scanWebhookDestination, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list webhook destinations: %w", err)
	}
	return out, nil
}

// GetWebhookDestination returns the organization's destination with the
// given ID.
func (s *Store) GetWebhookDestination(ctx context.Context, orgID, id string) (WebhookDestination, error) {
	return getWebhookDestination(ctx, s.read, orgID, id)
}

func getWebhookDestination(ctx context.Context, db queryer, orgID, id string) (WebhookDestination, error) {
	return getByID(ctx, db, KindWebhookDestination, "webhook_destinations", webhookDestinationColumns, orgID, id,
		scanWebhookDestination)
}

// UpdateWebhookDestination changes the retries and accepted types given;
// nil leaves them. The URL never changes.
func (s *Store) UpdateWebhookDestination(ctx context.Context, orgID, id string, retries *int, types *[]string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := getWebhookDestination(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if retries != nil {
			d.RetryAttempts = *retries
		}
		if types != nil {
			d.AcceptedTypes = *types
		}
		raw, err := json.Marshal(nonNil(d.AcceptedTypes))
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_destinations SET retry_attempts = ?, accepted_types = ? WHERE id = ?`,
			d.RetryAttempts, string(raw), id)
		return err
	})
}

// DeleteWebhookDestination removes the destination and its deliveries;
// nothing more is sent to it.
func (s *Store) DeleteWebhookDestination(ctx context.Context, orgID, id string) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM webhook_destinations WHERE org_id = ? AND id = ?`, orgID, id)
	if err != nil {
		return fmt.Errorf("store: delete webhook destination: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return missing(KindWebhookDestination, id)
	}
	return nil
}

// RotateWebhookSecret makes sealed the destination's secret; the one it
// replaces signs too until the returned time. A second rotation within
// WebhookRotationInterval of the last is a *RuleError (RuleRotatedRecently);
// the secret made with the destination does not count as a rotation.
func (s *Store) RotateWebhookSecret(ctx context.Context, orgID, id string, sealed []byte) (time.Time, error) {
	now := s.now()
	stops := now.Add(WebhookDualSigning)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		d, err := getWebhookDestination(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		if wait := d.SecretGeneratedAt.Add(WebhookRotationInterval).Sub(now); wait > 0 && d.PreviousSecret != nil {
			return &RuleError{Refusal{Rule: RuleRotatedRecently, Kind: KindWebhookDestination, ID: id,
				Wait: wait.Round(time.Second).String()}, nil}
		}
		_, err = tx.ExecContext(ctx, `UPDATE webhook_destinations SET previous_secret = secret, secret = ?,
			dual_signing_stops_at = ?, secret_generated_at = ? WHERE id = ?`, sealed, formatTime(stops), formatTime(now), id)
		return err
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("store: rotate webhook secret: %w", err)
	}
	return stops, nil
}

// enqueueWebhookEvent writes, in the transaction of the change that
// causes the event, one delivery of content for each of the
// organization's destinations accepting typ, due at once. It reports
// whether it wrote any.
func (s *Store) enqueueWebhookEvent(ctx context.Context, tx *sql.Tx, orgID, typ string, content any, now time.Time) (bool, error) {
	body, err := json.Marshal(content)
	if err != nil {
		return false, err
	}
	// IDs as NewID makes them: 12 random bytes in lowercase hex.
	const q = `INSERT INTO webhook_deliveries (id, org_id, destination_id, type, content, next_attempt_at, created_at)
		SELECT lower(hex(randomblob(12))), d.org_id, d.id, ?, ?, ?, ? FROM webhook_destinations d
		WHERE d.org_id = ? AND EXISTS (SELECT 1 FROM json_each(d.accepted_types) j WHERE j.value = ?)`
	res, err := tx.ExecContext(ctx, q, typ, string(body), formatTime(now), formatTime(now), orgID, typ)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if n > 0 {
		s.queued.Store(true)
	}
	return n > 0, err
}

// ResourceUpdatedEvent is the webhook event type announcing a change to an
// agent, a context graph, a service or a dynamic behavior set.
const ResourceUpdatedEvent = "agent-framework-resource-updated"

// The changes a resource-updated event names.
const (
	ChangeCreated        = "created"
	ChangeVersionCreated = "version-created"
	ChangeUpdated        = "updated"
	ChangeDeleted        = "deleted"
)

// resourceUpdated queues the event announcing a change to a resource, in
// the change's transaction. version is the version a ChangeVersionCreated
// made.
func (s *Store) resourceUpdated(ctx context.Context, tx *sql.Tx, orgID, resourceType, id, change string, version *int) error {
	_, err := s.enqueueWebhookEvent(ctx, tx, orgID, ResourceUpdatedEvent, map[string]any{
		"type": ResourceUpdatedEvent, "org_id": orgID, "resource_type": resourceType, "resource_id": id,
		"change": change, "version": version, "updated_at": s.now().UTC().Format(time.RFC3339Nano),
	}, s.now())
	return err
}

// EmitWebhookEvent queues an event for the organization's destinations
// that accept its type, and reports whether any does. Changes that cause
// an event queue it in their own transaction instead.
func (s *Store) EmitWebhookEvent(ctx context.Context, orgID, typ string, content any) (bool, error) {
	var queued bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		queued, err = s.enqueueWebhookEvent(ctx, tx, orgID, typ, content, s.now())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: emit webhook event: %w", err)
	}
	return queued, nil
}

// signal wakes whoever waits on ch, unless it has a wake-up waiting.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// WebhookSignal is signalled when a commit has queued webhook deliveries.
func (s *Store) WebhookSignal() <-chan struct{} { return s.webhooks }

// DeliveryAttempt is one try at sending a delivery.
type DeliveryAttempt struct {
	DeliveryTime time.Time `json:"delivery_time"`
	// StatusCode is the receiver's answer, or 0 when none came (refused,
	// timed out, unreachable).
	StatusCode int `json:"status_code"`
}

// WebhookDelivery is one event for one destination and its attempts.
type WebhookDelivery struct {
	ID            string
	OrgID         string
	DestinationID string
	Type          string
	Content       json.RawMessage
	Status        string
	Attempts      []DeliveryAttempt
	NextAttemptAt *time.Time
	DualSigned    bool
	CreatedAt     time.Time
}

const webhookDeliveryColumns = `r.id, r.org_id, r.destination_id, r.type, r.content, r.status, r.attempts,
	r.next_attempt_at, r.dual_signed, r.created_at`

func scanWebhookDelivery(row interface{ Scan(...any) error }) (WebhookDelivery, error) {
	var d WebhookDelivery
	var content, attempts, created string
	var next *string
	if err := row.Scan(&d.ID, &d.OrgID, &d.DestinationID, &d.Type, &content, &d.Status, &attempts, &next, &d.DualSigned,
		&created); err != nil {
		return d, err
	}
	d.Content = json.RawMessage(content)
	if err := json.Unmarshal([]byte(attempts), &d.Attempts); err != nil {
		return d, fmt.Errorf("webhook delivery %s attempts: %w", d.ID, err)
	}
	if next != nil {
		t, err := parseTime(*next)
		if err != nil {
			return d, err
		}
		d.NextAttemptAt = &t
	}
	var err error
	d.CreatedAt, err = parseTime(created)
	return d, err
}

// DueDelivery is a delivery a worker is to send, with where to.
type DueDelivery struct {
	WebhookDelivery
	Destination WebhookDestination
}

// ClaimDueDeliveries leases up to limit deliveries whose next attempt is
// due at now for lease, so no other worker sends them meanwhile; one whose
// worker stopped mid-send is due again when its lease ends.
func (s *Store) ClaimDueDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]DueDelivery, error) {
	if found, err := s.anyRow(ctx, `SELECT 1 FROM webhook_deliveries WHERE next_attempt_at IS NOT NULL
		AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until <= ?) LIMIT 1`,
		formatTime(now), formatTime(now)); err != nil || !found {
		return nil, err
	}
	var out []DueDelivery
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q := `SELECT ` + webhookDeliveryColumns + ` FROM webhook_deliveries r WHERE r.next_attempt_at IS NOT NULL
			AND r.next_attempt_at <= ? AND (r.leased_until IS NULL OR r.leased_until <= ?)
			ORDER BY r.next_attempt_at, r.id LIMIT ?`
		due, err := queryAll(ctx, tx, scanWebhookDelivery, q, formatTime(now), formatTime(now), limit)
		if err != nil {
			return err
		}
		for _, d := range due {
			dest, err := getWebhookDestination(ctx, tx, d.OrgID, d.DestinationID)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET leased_until = ? WHERE id = ?`,
				formatTime(now.Add(lease)), d.ID); err != nil {
				return err
			}
			out = append(out, DueDelivery{WebhookDelivery: d, Destination: dest})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
	}
	return out, nil
}

// ReleaseWebhookLeases frees the deliveries a stopped process was sending,
// so they are sent again at once rather than when their lease ends. One
// process serves a data directory, so at its start no lease is live.
func (s *Store) ReleaseWebhookLeases(ctx context.Context) error {
	_, err := s.write.ExecContext(ctx, `UPDATE webhook_deliveries SET leased_until = NULL WHERE leased_until IS NOT NULL`)
	return err
}

// NextWebhookAttempt is when the earliest delivery not leased is due, if
// any is waiting.
func (s *Store) NextWebhookAttempt(ctx context.Context) (time.Time, bool, error) {
	var next *string
	err := s.read.QueryRowContext(ctx, `SELECT MIN(MAX(next_attempt_at, COALESCE(leased_until, ''))) FROM webhook_deliveries
		WHERE next_attempt_at IS NOT NULL`).Scan(&next)
	if err != nil || next == nil {
		return time.Time{}, false, err
	}
	t, err := parseTime(*next)
	return t, err == nil, err
}

// RecordDeliveryAttempt appends an attempt to the delivery and sets what
// follows: success, or the next attempt's time (nil when none remains).
// A delivery removed meanwhile (its destination deleted) is ignored.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, id string, a DeliveryAttempt, succeeded, dualSigned bool, next *time.Time) error {
	raw, err := json.Marshal(DeliveryAttempt{DeliveryTime: a.DeliveryTime.UTC(), StatusCode: a.StatusCode})
	if err != nil {
		return err
	}
	status := DeliveryFailed
	var nextAt *string
	if succeeded {
		status = DeliverySuccess
	} else if next != nil {
		t := formatTime(*next)
		nextAt = &t
	}
	_, err = s.write.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = json_insert(attempts, '$[#]', json(?)),
		status = ?, next_attempt_at = ?, leased_until = NULL, dual_signed = dual_signed OR ? WHERE id = ?`,
		string(raw), status, nextAt, dualSigned, id)
	if err != nil {
		return fmt.Errorf("store: record webhook delivery attempt: %w", err)
	}
	return nil
}

// webhookDeliverySortColumns maps the API's sort fields to columns.
var webhookDeliverySortColumns = map[string]string{"type": "r.type", "status": "r.status", "created_at": "r.created_at"}

// ValidWebhookDeliverySortField reports whether ListWebhookDeliveries can
// sort by field.
var ValidWebhookDeliverySortField = sortable(webhookDeliverySortColumns)

// WebhookDeliveryFilter selects and pages a destination's deliveries.
type WebhookDeliveryFilter struct {
	Status        *string
	Type          *string
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	Sort          []SortKey
	Limit         int
	Offset        int
}

// ListWebhookDeliveries returns a page of the destination's deliveries of
// the last WebhookRetention matching f, newest first unless sorted
// otherwise, and whether more follow.
func (s *Store) ListWebhookDeliveries(ctx context.Context, orgID, destinationID string, f WebhookDeliveryFilter) ([]WebhookDelivery, bool, error) {
	var b strings.Builder
	b.WriteString(`r.org_id = ? AND r.destination_id = ? AND r.created_at >= ?`)
	args := []any{orgID, destinationID, formatTime(s.now().Add(-WebhookRetention))}
	if f.Status != nil {
		b.WriteString(` AND r.status = ?`)
		args = append(args, *f.Status)
	}
	if f.Type != nil {
		b.WriteString(` AND r.type = ?`)
		args = append(args, *f.Type)
	}
	args = andCreatedBetween(&b, args, "r.created_at", f.CreatedAfter, f.CreatedBefore)
	order, err := orderBy(f.Sort, webhookDeliverySortColumns)
	if err != nil {
		return nil, false, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	q := `SELECT ` + webhookDeliveryColumns + ` FROM webhook_deliveries r WHERE ` + b.String() + ` ORDER BY ` +
		strings.Join(append(order, "r.created_at DESC", "r.id"), ", ") + ` LIMIT ? OFFSET ?`
	out, err := queryAll(ctx, s.read, scanWebhookDelivery, q, append(args, f.Limit+1, f.Offset)...)
	if err != nil {
		return nil, false, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	return out, more, nil
}

// andCreatedBetween adds the conditions that column is at or after after
// and at or before before, each when given.
func andCreatedBetween(b *strings.Builder, args []any, column string, after, before *time.Time) []any {
	if after != nil {
		b.WriteString(` AND ` + column + ` >= ?`)
		args = append(args, formatTime(*after))
	}
	if before != nil {
		b.WriteString(` AND ` + column + ` <= ?`)
		args = append(args, formatTime(*before))
	}
	return args
}

// PruneWebhookDeliveries removes delivery records older than before and
// returns how many.
func (s *Store) PruneWebhookDeliveries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE created_at < ?`, formatTime(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune webhook deliveries: %w", err)
	}
	return res.RowsAffected()
}

// APIKeyExpirationEvent is the webhook event type announcing that an API
// key expires soon.
const APIKeyExpirationEvent = "api-key-expiration-soon"

// APIKeyExpirationNotice is how long before its expiration an API key's
// coming expiration is announced.
const APIKeyExpirationNotice = 7 * 24 * time.Hour

// AnnounceExpiringAPIKeys queues, once per key, the api-key-expiration-soon
// event of every API key that expires within APIKeyExpirationNotice and
// has not yet, and returns how many it announced.
func (s *Store) AnnounceExpiringAPIKeys(ctx context.Context) (int, error) {
	now := s.now()
	window := []any{formatTime(now), formatTime(now.Add(APIKeyExpirationNotice))}
	if found, err := s.anyRow(ctx, `SELECT 1 FROM api_keys WHERE expiration_announced_at IS NULL
		AND expires_at > ? AND expires_at <= ? LIMIT 1`, window...); err != nil || !found {
		return 0, err
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		type key struct{ orgID, keyID, user, name, expires string }
		keys, err := queryAll(ctx, tx, func(row interface{ Scan(...any) error }) (key, error) {
			var k key
			var name *string
			err := row.Scan(&k.orgID, &k.keyID, &k.user, &name, &k.expires)
			if name != nil {
				k.name = *name
			}
			return k, err
		}, `SELECT org_id, key_id, creator_user_id, name, expires_at FROM api_keys
			WHERE expiration_announced_at IS NULL AND expires_at > ? AND expires_at <= ?`, window...)
		if err != nil {
			return err
		}
		for _, k := range keys {
			expires, err := parseTime(k.expires)
			if err != nil {
				return err
			}
			if _, err := s.enqueueWebhookEvent(ctx, tx, k.orgID, APIKeyExpirationEvent, map[string]any{
				"type": APIKeyExpirationEvent, "org_id": k.orgID, "api_key_id": k.keyID, "name": k.name,
				"user_id": k.user, "expires_at": expires.UTC().Format(time.RFC3339Nano)}, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET expiration_announced_at = ? WHERE key_id = ?`,
				formatTime(now), k.keyID); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: announce expiring API keys: %w", err)
	}
	return n, nil
}
