package httpapi

import (
	"net/http"
	"time"

	"github.com/sosodev/duration"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// Bounds of a temporary grant's duration, both inclusive (v0.7.0).
const (
	minGrantDuration = time.Minute
	maxGrantDuration = 72 * time.Hour
)

// grantDuration parses an ISO 8601 duration and checks it is within bounds.
func grantDuration(s string) (time.Duration, error) {
	bad := func(msg string) error {
		return validationFailed(fieldError{Loc: []any{"body", "duration"}, Msg: msg, Type: "value_error", Input: s})
	}
	d, err := duration.Parse(s)
	if err != nil {
		return 0, bad("Not an ISO 8601 duration, such as PT1H or P1D")
	}
	// Any part this large is far beyond three days, and converting it could
	// overflow time.Duration into a small or negative value.
	for _, part := range []float64{d.Years, d.Months, d.Weeks, d.Days, d.Hours, d.Minutes, d.Seconds} {
		if part > 1e6 {
			return 0, bad("A temporary permission grant lasts from PT1M to P3D")
		}
	}
	td := d.ToTimeDuration()
	if td < minGrantDuration || td > maxGrantDuration {
		return 0, bad("A temporary permission grant lasts from PT1M to P3D")
	}
	return td, nil
}

type createTemporaryGrantRequest struct {
	UserID          string             `json:"user_id"`
	Duration        string             `json:"duration"`
	PermissionGrant grantIn            `json:"permission_grant"`
	Tags            map[string]*string `json:"tags"`
	Justification   string             `json:"justification"`
}

// temporaryGrantAttrs are what Role:CreateTemporaryPermissionGrant and
// Role:GetTemporaryPermissionGrant conditions are evaluated against.
func temporaryGrantAttrs(orgID, userID, permission string) auth.Attributes {
	return auth.Attributes{auth.AttrOrgID: orgID, auth.AttrUserID: userID, auth.AttrPermissionName: permission}
}

// createTemporaryGrant gives a user one permission grant for a while. The
// caller needs Role:CreateTemporaryPermissionGrant for this grant, and its
// role, not counting its own temporary grants, must cover the grant: what a
// caller was lent for a while is not theirs to lend on.
func (s *Server) createTemporaryGrant(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createTemporaryGrantRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	d, err := grantDuration(req.Duration)
	if err != nil {
		return err
	}
	var f faults
	grant := req.PermissionGrant.grant(&f, []any{"body", "permission_grant"})
	if err := f.Err(); err != nil {
		return err
	}
	justification, err := strippedNonEmpty(req.Justification, "body", "justification")
	if err != nil {
		return err
	}
	tags := make(map[string]*string, len(req.Tags))
	for k, v := range req.Tags {
		key, err := strippedNonEmpty(k, "body", "tags", k)
		if err != nil {
			return err
		}
		if v != nil {
			val, err := strippedNonEmpty(*v, "body", "tags", k)
			if err != nil {
				return err
			}
			v = &val
		}
		tags[key] = v
	}
	if err := st.allow(auth.RoleCreateTemporaryPermissionGrant, temporaryGrantAttrs(st.org.ID, req.UserID, grant.PermissionName)); err != nil {
		return err
	}
	if !auth.Covers(st.principal.Role.PermissionGrants, []store.PermissionGrant{grant}) {
		return errorf(http.StatusForbidden, "The grant gives more than the authenticated user's role holds: it needs "+
			grant.PermissionName+" with conditions at least as broad.")
	}
	created, err := s.store.CreateTemporaryGrant(ctx, store.TemporaryGrant{
		OrgID: st.org.ID, UserID: req.UserID, Grant: grant, Tags: tagsIn(tags), Justification: justification,
		Creator: actor(r),
	}, d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{
		"temporary_permission_grant_id": created.ID, "expires_at": apiTime(created.ExpiresAt),
	})
	return nil
}

type temporaryGrantInstance struct {
	ID              string                `json:"_id"`
	OrgID           string                `json:"org_id"`
	CreatedAt       string                `json:"created_at"`
	UpdatedAt       string                `json:"updated_at"`
	UserID          string                `json:"user_id"`
	ExpiresAt       string                `json:"expires_at"`
	PermissionGrant store.PermissionGrant `json:"permission_grant"`
	Justification   string                `json:"justification"`
	Creator         userInfoRef           `json:"creator"`
	Tags            map[string]*string    `json:"tags"`
}

func temporaryGrantOut(g store.TemporaryGrant) temporaryGrantInstance {
	tags := make(map[string]*string, len(g.Tags))
	for _, t := range g.Tags {
		tags[t.Key] = t.Value
	}
	return temporaryGrantInstance{
		ID: g.ID, OrgID: g.OrgID, CreatedAt: apiTime(g.CreatedAt), UpdatedAt: apiTime(g.UpdatedAt), UserID: g.UserID,
		ExpiresAt: apiTime(g.ExpiresAt), PermissionGrant: g.Grant, Justification: g.Justification,
		Creator: userInfoRef{OrgID: g.Creator.OrgID, UserID: g.Creator.UserID}, Tags: tags,
	}
}

// getTemporaryGrants lists the grants matching the filters that the caller
// holds Role:GetTemporaryPermissionGrant for, expired ones included unless
// is_expired says otherwise. Visibility is decided per grant, so the page is
// cut after filtering.
func (s *Server) getTemporaryGrants(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	sortBy, err := sortKeys(r, store.ValidTemporaryGrantSortField)
	if err != nil {
		return err
	}
	tags, err := tagFilters(r, "tag")
	if err != nil {
		return err
	}
	f := store.TemporaryGrantFilter{
		IDs: queryStrings(r, "id"), UserIDs: queryStrings(r, "user_id"), CreatorUserIDs: queryStrings(r, "creator"),
		Expired: queryBool(r, "is_expired"), Tags: tags, Sort: sortBy,
	}
	if name, ok := st.query["permission_grant_name"].(string); ok {
		f.PermissionName = &name
	}
	all, err := s.store.ListTemporaryGrants(ctx, st.org.ID, f)
	if err != nil {
		return err
	}
	var visible []store.TemporaryGrant
	for _, g := range all {
		if auth.Allowed(st.principal.Grants, auth.RoleGetTemporaryPermissionGrant,
			temporaryGrantAttrs(g.OrgID, g.UserID, g.Grant.PermissionName)) {
			visible = append(visible, g)
		}
	}
	limit, offset := queryInt(r, "limit"), max(0, queryInt(r, "continuation_token"))
	grants, more := page(visible, offset, limit)
	out := make([]temporaryGrantInstance, len(grants))
	for i, g := range grants {
		out[i] = temporaryGrantOut(g)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"temporary_permission_grants": out, "has_more": more, "continuation_token": nextToken(offset, len(grants), more),
	})
	return nil
}
