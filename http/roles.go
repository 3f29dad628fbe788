package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

// grantIn is a permission grant as a request carries it. GrantType is read
// only to refuse what v0.7.0 removed: grants are allow-only.
type grantIn struct {
	PermissionName string                     `json:"permission_name"`
	Conditions     map[string]store.Condition `json:"conditions"`
	GrantType      *string                    `json:"grant_type"`
}

// grantsIn checks the grants of a request body at loc and returns them as
// stored. Everything wrong with any of them is reported at once, as 422.
func grantsIn(loc []any, in []grantIn) ([]store.PermissionGrant, error) {
	out := make([]store.PermissionGrant, len(in))
	var f faults
	for i, g := range in {
		out[i] = g.grant(&f, extend(loc, i))
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// grant returns g as stored, recording in f what is wrong with it, located
// under loc.
func (g grantIn) grant(f *faults, loc []any) store.PermissionGrant {
	if g.GrantType != nil && *g.GrantType != "allow" {
		msg := "Unknown grant type " + strconv.Quote(*g.GrantType) + "; permission grants are allow-only"
		if *g.GrantType == "deny" {
			msg = "Deny permission grants were removed in v0.7.0: permissions are allow-only. " +
				"Grant only what is allowed, narrowing it with conditions"
		}
		f.Add(extend(loc, "grant_type"), "value_error", msg, *g.GrantType)
		return store.PermissionGrant{}
	}
	pg := store.PermissionGrant{PermissionName: g.PermissionName, Conditions: g.Conditions}
	if pg.Conditions == nil {
		pg.Conditions = map[string]store.Condition{}
	}
	for _, p := range auth.CheckGrant(pg) {
		f.Add(extend(loc, p.Loc...), "value_error", p.Msg)
	}
	return pg
}

// refuseParentRole answers a request naming a parent role: v0.7.0 removed
// role inheritance, and a silently ignored parent would leave a role with
// fewer permissions than its author meant.
func refuseParentRole(parent json.RawMessage) error {
	if parent == nil {
		return nil
	}
	return validationFailed(fieldError{Loc: []any{"body", "parent_role"},
		Msg:  "Role inheritance was removed in v0.7.0: a role cannot name a parent_role. List every permission the role needs in permission_grants",
		Type: "value_error"})
}

func roleAttrs(r store.Role) auth.Attributes {
	return auth.Attributes{auth.AttrOrgID: r.OrgID, auth.AttrRoleID: r.ID, auth.AttrName: r.Name}
}

type createRoleRequest struct {
	RoleName         string          `json:"role_name"`
	Description      string          `json:"description"`
	PermissionGrants []grantIn       `json:"permission_grants"`
	FrontendView     string          `json:"frontend_view"`
	ParentRole       json.RawMessage `json:"parent_role"`
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createRoleRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := refuseParentRole(req.ParentRole); err != nil {
		return err
	}
	name, err := strippedNonEmpty(req.RoleName, "body", "role_name")
	if err != nil {
		return err
	}
	if strings.Contains(name, "/") {
		return validationFailed(fieldError{Loc: []any{"body", "role_name"}, Msg: "A role name cannot contain '/': it is a path segment",
			Type: "value_error", Input: req.RoleName})
	}
	desc, err := strippedNonEmpty(req.Description, "body", "description")
	if err != nil {
		return err
	}
	grants, err := grantsIn([]any{"body", "permission_grants"}, req.PermissionGrants)
	if err != nil {
		return err
	}
	if err := st.allow(auth.RoleCreateRole, auth.Attributes{auth.AttrOrgID: st.org.ID, auth.AttrName: name}); err != nil {
		return err
	}
	role, err := s.store.CreateRole(ctx, store.Role{
		OrgID: st.org.ID, Name: name, Description: desc, FrontendView: req.FrontendView, PermissionGrants: grants,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]string{"role_id": role.ID})
	return nil
}

// roleInstance is a role as get-roles returns it. Since v0.7.0 the grants
// are `permissions`; the old `permission_grants` field is gone.
type roleInstance struct {
	ID           string                  `json:"id"`
	Name         string                  `json:"name"`
	Description  string                  `json:"description"`
	FrontendView string                  `json:"frontend_view"`
	Permissions  []store.PermissionGrant `json:"permissions"`
}

// getRoles lists the roles the caller holds Role:GetRole for.
func (s *Server) getRoles(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	roles, err := s.store.ListRoles(ctx, st.org.ID)
	if err != nil {
		return err
	}
	ids, names := queryStrings(r, "id"), queryStrings(r, "name")
	out := []roleInstance{}
	for _, role := range roles {
		if len(ids) > 0 && !slices.Contains(ids, role.ID) || len(names) > 0 && !slices.Contains(names, role.Name) {
			continue
		}
		if !auth.Allowed(st.principal.Grants, auth.RoleGetRole, roleAttrs(role)) {
			continue
		}
		out = append(out, roleInstance{ID: role.ID, Name: role.Name, Description: role.Description,
			FrontendView: role.FrontendView, Permissions: role.PermissionGrants})
	}
	writeJSON(w, http.StatusOK, map[string]any{"roles": out})
	return nil
}

type modifyRoleRequest struct {
	Description      *string         `json:"description"`
	PermissionGrants *[]grantIn      `json:"permission_grants"`
	FrontendView     *string         `json:"frontend_view"`
	ParentRole       json.RawMessage `json:"parent_role"`
}

// modifyRole changes a role in place. Changing what a role grants changes
// what every holder of it may do, so the caller's own role must cover both
// the grants it had and the grants it gets. Built-in roles are fixed.
func (s *Server) modifyRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req modifyRoleRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := refuseParentRole(req.ParentRole); err != nil {
		return err
	}
	var desc string
	if req.Description != nil {
		var err error
		if desc, err = strippedNonEmpty(*req.Description, "body", "description"); err != nil {
			return err
		}
	}
	var grants []store.PermissionGrant
	if req.PermissionGrants != nil {
		var err error
		if grants, err = grantsIn([]any{"body", "permission_grants"}, *req.PermissionGrants); err != nil {
			return err
		}
	}
	name := mux.Vars(r)["role_name"]
	role, err := s.store.UpdateRole(ctx, st.org.ID, name, func(role *store.Role) error {
		if err := st.allow(auth.RoleModifyRole, roleAttrs(*role)); err != nil {
			return err
		}
		if role.Builtin {
			return badRequest("The built-in role " + name + " cannot be modified; create a role of your own instead.")
		}
		if req.Description != nil {
			role.Description = desc
		}
		if req.FrontendView != nil {
			role.FrontendView = *req.FrontendView
		}
		if req.PermissionGrants != nil {
			held := st.principal.Role.PermissionGrants
			if !auth.Covers(held, role.PermissionGrants) || !auth.Covers(held, grants) {
				return errorf(http.StatusForbidden, "The role "+name+" would have, or has, permissions the authenticated user's role does not hold.")
			}
			role.PermissionGrants = grants
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"role_id": role.ID})
	return nil
}

type assignRoleRequest struct {
	UserID string `json:"user_id"`
}

// assignRole gives a user a role. The caller's role must cover the role
// given and the user's current one: nobody hands out more than they hold,
// nor demotes someone who holds more than they do.
func (s *Server) assignRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req assignRoleRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	name := mux.Vars(r)["role_name"]
	held := st.principal.Role.PermissionGrants
	role, err := s.store.AssignRole(ctx, st.org.ID, req.UserID, name, func(role, current store.Role) error {
		if !auth.Covers(held, role.PermissionGrants) {
			return errorf(http.StatusForbidden, "The role "+name+" has permissions the authenticated user's role does not hold.")
		}
		if !auth.Covers(held, current.PermissionGrants) {
			return errorf(http.StatusForbidden, "The user's current role "+current.Name+" has permissions the authenticated user's role does not hold.")
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"role_id": role.ID})
	return nil
}
