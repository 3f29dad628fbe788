package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

type userStats struct {
	NumConversations int     `json:"num_conversations"`
	NumMessages      int     `json:"num_messages"`
	LastMessageTime  *string `json:"last_message_time"`
}

type userInstance struct {
	OrgID                 string            `json:"org_id"`
	UserID                string            `json:"user_id"`
	FirstName             string            `json:"first_name"`
	LastName              string            `json:"last_name"`
	Email                 string            `json:"email"`
	UserStats             userStats         `json:"user_stats"`
	Role                  string            `json:"role"`
	Preferences           preferences       `json:"preferences"`
	NonsensitiveVariables map[string]string `json:"nonsensitive_variables"`
	SensitiveVariables    []string          `json:"sensitive_variables"`
	EnableActionsAccess   bool              `json:"enable_actions_access"`
	// Keyterms are the user's audio keyterms. See DECISIONS.md, "What are a
	// user's keyterms?".
	Keyterms []string `json:"keyterms"`
}

func userOut(u store.User) userInstance {
	out := userInstance{
		OrgID: u.OrgID, UserID: u.ID, FirstName: u.FirstName, LastName: u.LastName, Email: u.Email,
		Role: u.RoleID, Preferences: preferencesOut(u.Preferences), EnableActionsAccess: u.EnableActionsAccess,
		NonsensitiveVariables: map[string]string{}, SensitiveVariables: []string{},
	}
	for _, v := range u.Variables {
		if v.IsSecret {
			out.SensitiveVariables = append(out.SensitiveVariables, v.Name)
		} else {
			out.NonsensitiveVariables[v.Name] = string(v.Value)
		}
	}
	out.Keyterms = out.Preferences.AudioKeyterms
	return out
}

func userAttrs(u store.User) auth.Attributes {
	return auth.Attributes{"org_id": u.OrgID, "user_id": u.ID, "role_id": u.RoleID}
}

// loadUser finds the user named in the path and checks the caller may act
// on it with perm. An unknown or malformed ID is 404.
func (s *Server) loadUser(r *http.Request, pathVar string, perm auth.Permission) (store.User, error) {
	st := state(r.Context())
	id := mux.Vars(r)[pathVar]
	u, err := s.store.GetUser(r.Context(), st.org.ID, id)
	if err != nil {
		return store.User{}, err
	}
	if perm != "" {
		if err := st.allow(perm, userAttrs(u)); err != nil {
			return store.User{}, err
		}
	}
	return u, nil
}

type createUserRequest struct {
	FirstName                 string            `json:"first_name"`
	LastName                  string            `json:"last_name"`
	Email                     string            `json:"email"`
	LoginLink                 *string           `json:"login_link"`
	RoleName                  string            `json:"role_name"`
	NonsensitiveUserVariables map[string]string `json:"nonsensitive_user_variables"`
	SensitiveUserVariables    map[string]string `json:"sensitive_user_variables"`
	UserPreferences           *preferencesIn    `json:"user_preferences"`
}

// createUser creates a verified user at once: there is no invitation flow,
// so verify_link echoes the login link, if one was given.
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req createUserRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if _, ok := req.NonsensitiveUserVariables["user_id"]; ok {
		return validationFailed(fieldError{Loc: []any{"body", "nonsensitive_user_variables", "user_id"},
			Msg: "user_id is set for every user and cannot be given", Type: "value_error"})
	}
	prefs := st.org.DefaultUserPreferences
	if req.UserPreferences != nil {
		var err error
		if prefs, err = req.UserPreferences.toStore("body", "user_preferences"); err != nil {
			return err
		}
	}
	role, err := s.grantableRole(r, req.RoleName)
	if err != nil {
		return err
	}
	id := store.NewID()
	var vars []store.Variable
	for name, value := range req.NonsensitiveUserVariables {
		vars = append(vars, store.Variable{Name: name, Value: []byte(value)})
	}
	for name, value := range req.SensitiveUserVariables {
		if _, clash := req.NonsensitiveUserVariables[name]; clash {
			return badRequest("Variable " + strconv.Quote(name) + " is given as both sensitive and nonsensitive.")
		}
		vars = append(vars, store.Variable{Name: name, Value: s.sealer.Seal([]byte(value), variableLabel(id, name)), IsSecret: true})
	}
	u, err := s.store.CreateUser(ctx, store.User{
		ID: id, OrgID: st.org.ID, FirstName: req.FirstName, LastName: req.LastName, Email: req.Email,
		RoleID: role.ID, Preferences: prefs, Variables: vars,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user_id": u.ID, "verify_link": req.LoginLink})
	return nil
}

// grantableRole returns the organization's role with the given name if the
// caller's own role covers it: nobody hands out more than they hold.
func (s *Server) grantableRole(r *http.Request, name string) (store.Role, error) {
	st := state(r.Context())
	role, err := s.store.GetRoleByName(r.Context(), st.org.ID, name)
	if err != nil {
		return store.Role{}, err
	}
	if !auth.Covers(st.principal.Role.PermissionGrants, role.PermissionGrants) {
		return store.Role{}, errorf(http.StatusForbidden, "The role "+name+" has permissions the authenticated user does not hold.")
	}
	return role, nil
}

// variableLabel binds a sealed variable to its user and name.
func variableLabel(userID, name string) string { return "user-variable/" + userID + "/" + name }

type usersPage struct {
	Users             []userInstance `json:"users"`
	HasMore           bool           `json:"has_more"`
	ContinuationToken *int           `json:"continuation_token"`
}

// getUsers lists the users the caller may see. With an unconditional grant
// the database pages; otherwise every match is checked and paged here.
func (s *Server) getUsers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	sort, err := sortKeys(r, store.ValidUserSortField)
	if err != nil {
		return err
	}
	limit, offset := queryInt(r, "limit"), max(0, queryInt(r, "continuation_token"))
	f := store.UserFilter{IDs: queryStrings(r, "user_id"), Emails: queryStrings(r, "email"), Sort: sort, Limit: limit, Offset: offset}
	grants := st.principal.Grants
	var users []store.User
	var more bool
	if auth.Unconditional(grants, auth.UserGetUserInfo) {
		if users, more, err = s.store.ListUsers(ctx, st.org.ID, f); err != nil {
			return err
		}
	} else {
		f.Limit, f.Offset = -1, 0
		all, _, err := s.store.ListUsers(ctx, st.org.ID, f)
		if err != nil {
			return err
		}
		var visible []store.User
		for _, u := range all {
			if auth.Allowed(grants, auth.UserGetUserInfo, userAttrs(u)) {
				visible = append(visible, u)
			}
		}
		users, more = page(visible, offset, limit)
	}
	resp := usersPage{Users: make([]userInstance, len(users)), HasMore: more}
	for i, u := range users {
		resp.Users[i] = userOut(u)
	}
	resp.ContinuationToken = nextToken(offset, len(users), more)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	users, err := s.store.SearchUsers(ctx, st.org.ID, queryString(r, "query"), queryStrings(r, "user_id"))
	if err != nil {
		return err
	}
	out := []userInstance{}
	for _, u := range users {
		if auth.Allowed(st.principal.Grants, auth.UserGetUserInfo, userAttrs(u)) {
			out = append(out, userOut(u))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

// modifyUserRequest: a nil field is left alone. preferred_language and
// timezone are raw because they have three states: absent or {} (leave
// alone), null (erase) and a value.
type modifyUserRequest struct {
	FirstName                    *string         `json:"first_name"`
	LastName                     *string         `json:"last_name"`
	EnableResponseRecommendation *bool           `json:"enable_response_recommendation"`
	PreferredLanguage            json.RawMessage `json:"preferred_language"`
	Timezone                     json.RawMessage `json:"timezone"`
	ConversationsVisibleToAdmins *bool           `json:"conversations_visible_to_admins"`
	UserModelVisibleToAdmins     *bool           `json:"user_model_visible_to_admins"`
	AdditionalContext            []string        `json:"additional_context"`
	AudioKeyterms                []string        `json:"audio_keyterms"`
}

// optionalString reads a tri-state field: set reports whether to change it,
// and v is the new value (nil to erase).
func optionalString(raw json.RawMessage) (v *string, set bool) {
	if len(raw) == 0 || raw[0] == '{' {
		return nil, false
	}
	if string(raw) == "null" {
		return nil, true
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	return &s, true
}

func (s *Server) modifyUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	st := state(ctx)
	var req modifyUserRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	tz, tzSet := optionalString(req.Timezone)
	if tzSet && tz != nil {
		if err := checkTimezone(*tz, "body", "timezone"); err != nil {
			return err
		}
	}
	lang, langSet := optionalString(req.PreferredLanguage)
	id := mux.Vars(r)["requested_user_id"]
	err := s.store.UpdateUser(ctx, st.org.ID, id, func(u *store.User) error {
		if err := st.allow(auth.UserUpdateUserInfo, userAttrs(*u)); err != nil {
			return err
		}
		if req.FirstName != nil {
			u.FirstName = *req.FirstName
		}
		if req.LastName != nil {
			u.LastName = *req.LastName
		}
		p := &u.Preferences
		if req.EnableResponseRecommendation != nil {
			p.EnableResponseRecommendation = *req.EnableResponseRecommendation
		}
		if req.ConversationsVisibleToAdmins != nil {
			p.ConversationsVisibleToAdmins = *req.ConversationsVisibleToAdmins
		}
		if req.UserModelVisibleToAdmins != nil {
			p.UserModelVisibleToAdmins = *req.UserModelVisibleToAdmins
		}
		if langSet {
			p.PreferredLanguage = lang
		}
		if tzSet {
			p.Timezone = tz
		}
		if req.AdditionalContext != nil {
			u.AdditionalContext = req.AdditionalContext
		}
		if req.AudioKeyterms != nil {
			p.AudioKeyterms = req.AudioKeyterms
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	u, err := s.loadUser(r, "requested_user_id", auth.UserDeleteUser)
	if err != nil {
		return err
	}
	err = s.store.DeleteUser(ctx, u.OrgID, u.ID)
	if err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}

type userModel struct {
	Content    string          `json:"content"`
	InsightIDs []string        `json:"insight_ids"`
	Dimensions []userDimension `json:"dimensions"`
}

// getUserModel returns the user's additional context; user models are built
// from conversations, so a user has none until conversations are recorded.
func (s *Server) getUserModel(w http.ResponseWriter, r *http.Request) error {
	u, err := s.loadUser(r, "user_id", auth.UserGetUserModel)
	if err != nil {
		return err
	}
	extra := u.AdditionalContext
	if extra == nil {
		extra = []string{}
	}
	models := []userModel{}
	m, ok, err := s.store.LatestUserModel(r.Context(), u.OrgID, u.ID)
	if err != nil {
		return err
	}
	if ok {
		models = append(models, userModel{Content: m.Content, InsightIDs: m.InsightIDs, Dimensions: dimensionsOut(m.Dimensions)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_models": models, "additional_context": extra})
	return nil
}

type memoryOut struct {
	ID             string   `json:"id"`
	CreatedAt      string   `json:"created_at"`
	ConversationID string   `json:"conversation_id"`
	References     []string `json:"references"`
	Content        string   `json:"content"`
	Context        string   `json:"context"`
}

// getMemories returns the memories post-processing took from the user's
// finished conversations.
func (s *Server) getMemories(w http.ResponseWriter, r *http.Request) error {
	sortBy, err := sortKeys(r, store.ValidMemorySortField)
	if err != nil {
		return err
	}
	u, err := s.loadUser(r, "user_id", "")
	if err != nil {
		return err
	}
	f := store.MemoryFilter{IDs: queryStrings(r, "id"), ConversationIDs: queryStrings(r, "conversation_id"), Sort: sortBy,
		Limit: queryInt(r, "limit"), Offset: max(0, queryInt(r, "continuation_token"))}
	ms, more, err := s.store.ListMemories(r.Context(), u.OrgID, u.ID, f)
	if err != nil {
		return err
	}
	out := make([]memoryOut, len(ms))
	for i, m := range ms {
		out[i] = memoryOut{ID: m.ID, CreatedAt: apiTime(m.CreatedAt), ConversationID: m.ConversationID,
			References: m.References, Content: m.Content, Context: m.Context}
	}
	writeJSON(w, http.StatusOK, map[string]any{"memories": out, "has_more": more,
		"continuation_token": nextToken(f.Offset, len(out), more)})
	return nil
}

type variableUpsert struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	IsSecret bool   `json:"is_secret"`
}

type variableDelete struct {
	Name string `json:"name"`
}

type modifyUserVariablesRequest struct {
	Upserts []variableUpsert `json:"upserts"`
	Deletes []variableDelete `json:"deletes"`
}

func (s *Server) modifyUserVariables(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req modifyUserVariablesRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	u, err := s.loadUser(r, "requested_user_id", auth.UserUpdateUserInfo)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var upserts []store.Variable
	for _, up := range req.Upserts {
		if seen[up.Name] {
			return badRequest("Variable " + strconv.Quote(up.Name) + " appears more than once.")
		}
		if up.Name == "user_id" {
			return badRequest("user_id is set for every user and cannot be changed.")
		}
		seen[up.Name] = true
		v := store.Variable{Name: up.Name, Value: []byte(up.Value), IsSecret: up.IsSecret}
		if up.IsSecret {
			v.Value = s.sealer.Seal(v.Value, variableLabel(u.ID, up.Name))
		}
		upserts = append(upserts, v)
	}
	var deletes []string
	for _, d := range req.Deletes {
		if seen[d.Name] {
			return badRequest("Variable " + strconv.Quote(d.Name) + " is both upserted and deleted.")
		}
		seen[d.Name] = true
		deletes = append(deletes, d.Name)
	}
	if err := s.store.ModifyUserVariables(ctx, u.OrgID, u.ID, upserts, deletes); err != nil {
		return err
	}
	writeNoContent(w)
	return nil
}
