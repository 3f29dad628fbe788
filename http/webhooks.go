package httpapi

import (
	"context"
	"errors"
	"net/http"

	a "github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
	"github.com/compadre-dev/compadre/webhook"
)

// Webhook destinations: where an organization's events are POSTed. Their
// permissions are decided for the organization alone.

type createWebhookDestinationRequest struct {
	URL           string   `json:"url"`
	AcceptedTypes []string `json:"accepted_types"`
	RetryAttempts *int     `json:"retry_attempts"`
}

// defaultRetryAttempts is create's retry_attempts when none is given, as
// the reference says.
const defaultRetryAttempts = 3

// createWebhookDestination stores a destination and answers its secret,
// the only time it is shown.
func (s *Server) createWebhookDestination(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req createWebhookDestinationRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := s.webhookPolicy.CheckURL(req.URL); err != nil {
		if errors.Is(err, webhook.ErrRefused) {
			return badRequest("The URL is refused: " + err.Error() + ".")
		}
		return err
	}
	d := store.WebhookDestination{ID: store.NewID(), OrgID: state(ctx).org.ID, URL: req.URL,
		AcceptedTypes: uniqueStrings(req.AcceptedTypes), RetryAttempts: defaultRetryAttempts}
	if req.RetryAttempts != nil {
		d.RetryAttempts = *req.RetryAttempts
	}
	secret := webhook.NewSecret()
	d.Secret = s.sealer.Seal([]byte(secret), webhook.SecretLabel(d.ID))
	created, err := s.store.CreateWebhookDestination(ctx, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"webhook_destination_id": created.ID, "secret": secret})
	return nil
}

type webhookDestinationOut struct {
	ID                string   `json:"id"`
	URL               string   `json:"url"`
	SecretGeneratedAt string   `json:"secret_generated_at"`
	RetryAttempts     int      `json:"retry_attempts"`
	AcceptedTypes     []string `json:"accepted_types"`
}

// getWebhookDestinations lists the destinations, never their secrets;
// nothing without Webhook:GetWebhookDestination.
func (s *Server) getWebhookDestinations(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	out := []webhookDestinationOut{}
	if mayRead(r, a.WebhookGetDestination) {
		ds, err := s.store.ListWebhookDestinations(ctx, state(ctx).org.ID, queryStrings(r, "id"))
		if err != nil {
			return err
		}
		for _, d := range ds {
			out = append(out, webhookDestinationOut{ID: d.ID, URL: d.URL, SecretGeneratedAt: apiTime(d.SecretGeneratedAt),
				RetryAttempts: d.RetryAttempts, AcceptedTypes: d.AcceptedTypes})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook_destinations": out})
	return nil
}

type updateWebhookDestinationRequest struct {
	RetryAttempts *int      `json:"retry_attempts"`
	AcceptedTypes *[]string `json:"accepted_types"`
}

// updateWebhookDestination changes the retries and accepted types; null
// leaves each, and the URL never changes.
func (s *Server) updateWebhookDestination(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := idParam(r, "webhook_destination_id")
	if err != nil {
		return err
	}
	var req updateWebhookDestinationRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.AcceptedTypes != nil {
		types := uniqueStrings(*req.AcceptedTypes)
		req.AcceptedTypes = &types
	}
	if err := s.store.UpdateWebhookDestination(ctx, state(ctx).org.ID, id, req.RetryAttempts, req.AcceptedTypes); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deleteWebhookDestination(w http.ResponseWriter, r *http.Request) error {
	return deleteByID(w, r, "webhook_destination_id",
		func(ctx context.Context, orgID, id string, _ store.Actor) error {
			return s.store.DeleteWebhookDestination(ctx, orgID, id)
		})
}

// rotateWebhookSecret makes a new secret; the old one signs too for
// store.WebhookDualSigning.
func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := idParam(r, "webhook_destination_id")
	if err != nil {
		return err
	}
	secret := webhook.NewSecret()
	stops, err := s.store.RotateWebhookSecret(ctx, state(ctx).org.ID, id, s.sealer.Seal([]byte(secret), webhook.SecretLabel(id)))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": secret, "dual_signing_stops_at": apiTime(stops)})
	return nil
}

type webhookDeliveryOut struct {
	ID               string              `json:"id"`
	Type             string              `json:"type"`
	WebhookContent   any                 `json:"webhook_content"`
	Status           string              `json:"status"`
	DeliveryAttempts []webhookAttemptOut `json:"delivery_attempts"`
	DualSigned       bool                `json:"dual_signed"`
	CreatedAt        string              `json:"created_at"`
}

type webhookAttemptOut struct {
	DeliveryTime string `json:"delivery_time"`
	StatusCode   int    `json:"status_code"`
}

// getWebhookDeliveries lists a destination's deliveries of the last 30
// days; nothing without Webhook:GetWebhookDeliveries.
func (s *Server) getWebhookDeliveries(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id, err := idParam(r, "webhook_destination_id")
	if err != nil {
		return err
	}
	orgID := state(ctx).org.ID
	if _, err := s.store.GetWebhookDestination(ctx, orgID, id); err != nil {
		return err
	}
	f := store.WebhookDeliveryFilter{Limit: queryInt(r, "limit"), Offset: max(0, queryInt(r, "continuation_token"))}
	if v := queryString(r, "status"); v != "" {
		f.Status = &v
	}
	if v := queryString(r, "type"); v != "" {
		f.Type = &v
	}
	if f.Sort, err = sortKeys(r, store.ValidWebhookDeliverySortField); err != nil {
		return err
	}
	var fe faults
	f.CreatedAfter = queryTime(r, &fe, "created_after")
	f.CreatedBefore = queryTime(r, &fe, "created_before")
	if err := fe.Err(); err != nil {
		return err
	}
	ds, more := []store.WebhookDelivery{}, false
	if mayRead(r, a.WebhookGetDeliveries) {
		if ds, more, err = s.store.ListWebhookDeliveries(ctx, orgID, id, f); err != nil {
			return err
		}
	}
	out := make([]webhookDeliveryOut, len(ds))
	for i, d := range ds {
		attempts := make([]webhookAttemptOut, len(d.Attempts))
		for k, at := range d.Attempts {
			attempts[k] = webhookAttemptOut{DeliveryTime: apiTime(at.DeliveryTime), StatusCode: at.StatusCode}
		}
		out[i] = webhookDeliveryOut{ID: d.ID, Type: d.Type, WebhookContent: d.Content, Status: d.Status,
			DeliveryAttempts: attempts, DualSigned: d.DualSigned, CreatedAt: apiTime(d.CreatedAt)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhook_deliveries": out, "has_more": more,
		"continuation_token": nextToken(f.Offset, len(out), more)})
	return nil
}
