package httpapi

import (
	"net/http"
	"slices"

	"github.com/compadre-dev/compadre/auth"
)

// Every permission a route line names is decided exactly once per request:
// by the pipeline when the organization is all it can depend on, else by
// the handler once it has loaded the resource, through requestState.allow.
// A handler that forgets its decision cannot answer with success: the
// response writer turns that answer into a 500 (see statusRecorder).

// orgScoped reports whether perm's grants can be conditioned on nothing
// but the organization, so the pipeline can decide it before the handler.
func orgScoped(perm auth.Permission) bool {
	keys := auth.ConditionKeys(perm)
	return len(keys) == 1 && keys[0] == auth.AttrOrgID
}

// allow decides perm for the resource described by attrs, and records that
// it was decided. A refusal is a 403 naming the permission.
func (st *requestState) allow(perm auth.Permission, attrs auth.Attributes) error {
	st.decided = append(st.decided, perm)
	if st.principal == nil || !auth.Allowed(st.principal.Grants, perm, attrs) {
		return forbidden(perm)
	}
	return nil
}

// undecided returns a permission the route names that nobody decided, or
// "" when every one was.
func (st *requestState) undecided() auth.Permission {
	for _, p := range st.pending {
		if !slices.Contains(st.decided, p) {
			return p
		}
	}
	return ""
}

// decideOrgScoped decides the route's organization-scoped permissions and
// leaves the others pending for the handler.
func (st *requestState) decideOrgScoped(perms []auth.Permission, orgID string) error {
	for _, p := range perms {
		if !orgScoped(p) {
			st.pending = append(st.pending, p)
			continue
		}
		if err := st.allow(p, auth.Attributes{auth.AttrOrgID: orgID}); err != nil {
			return err
		}
	}
	return nil
}

// successful reports whether status would tell the client the operation
// was done.
func successful(status int) bool { return status < http.StatusBadRequest }
