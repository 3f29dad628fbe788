package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCreateUser(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	base := func(extra map[string]any) map[string]any {
		b := map[string]any{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "role_name": "DefaultUserRole"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	tests := []struct {
		name string
		body any
		want int
	}{
		{"created", base(map[string]any{"login_link": "https://example.com/login"}), http.StatusCreated},
		{"same email", base(map[string]any{"email": "ADA@example.com"}), http.StatusConflict},
		{"unknown role", base(map[string]any{"email": "b@example.com", "role_name": "Nope"}), http.StatusNotFound},
		{"missing email", map[string]any{"first_name": "a", "last_name": "b", "role_name": "DefaultUserRole"}, http.StatusUnprocessableEntity},
		{"bad email", base(map[string]any{"email": "not-an-email"}), http.StatusUnprocessableEntity},
		{"empty first name", base(map[string]any{"email": "c@example.com", "first_name": ""}), http.StatusUnprocessableEntity},
		{"user_id variable", base(map[string]any{"email": "d@example.com", "nonsensitive_user_variables": map[string]any{"user_id": "x"}}), http.StatusUnprocessableEntity},
		{"malformed JSON", `{"first_name": `, http.StatusUnprocessableEntity},
		{"no body", nil, http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("POST", "/user/", tc.body)
			mustStatus(t, tc.name, status, tc.want, body)
			switch {
			case status == http.StatusCreated:
				if body["verify_link"] != "https://example.com/login" || len(body["user_id"].(string)) != 24 {
					t.Errorf("body %v", body)
				}
			case status == http.StatusUnprocessableEntity:
				errs, ok := body["detail"].([]any)
				if !ok || len(errs) == 0 {
					t.Fatalf("422 detail %v, want a list", body["detail"])
				}
				for _, e := range errs {
					m := e.(map[string]any)
					if _, ok := m["loc"].([]any); !ok || m["msg"] == nil || m["type"] == nil {
						t.Errorf("422 entry %v lacks loc, msg or type", m)
					}
				}
			default:
				if detail(body) == "" {
					t.Errorf("error body %v has no detail", body)
				}
			}
		})
	}
	// Only the first request may have written anything.
	_, body := c.do("GET", "/user/", nil)
	if n := len(body["users"].([]any)); n != 2 {
		t.Errorf("%d users after the table, want 2 (administrator and Ada)", n)
	}
}

func TestGetUsersFiltersAndPages(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	ids := map[string]string{}
	for _, name := range []string{"bea", "cyd", "abe"} {
		ids[name] = c.newUser(name+"@example.com", "DefaultUserRole")
	}
	names := func(body map[string]any) string {
		var out []string
		for _, u := range body["users"].([]any) {
			out = append(out, u.(map[string]any)["email"].(string))
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name, query, want string
		more              bool
	}{
		{"by user_id", "?user_id=" + ids["bea"] + "&user_id=" + ids["cyd"] + "&sort_by=email", "bea@example.com,cyd@example.com", false},
		{"by email", "?email=abe@example.com", "abe@example.com", false},
		{"sorted, first page", "?sort_by=-email&limit=2", "cyd@example.com,bea@example.com", true},
		{"sorted, next page", "?sort_by=-email&limit=2&continuation_token=2", "admin@example.com,abe@example.com", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := c.do("GET", "/user/"+tc.query, nil)
			mustStatus(t, tc.name, status, http.StatusOK, body)
			if got := names(body); got != tc.want || body["has_more"] != tc.more {
				t.Errorf("got %s (has_more %v), want %s (%v)", got, body["has_more"], tc.want, tc.more)
			}
			if _, ok := body["continuation_token"]; !ok {
				t.Error("continuation_token missing")
			}
			u := body["users"].([]any)[0].(map[string]any)
			for _, k := range []string{"org_id", "user_id", "user_stats", "role", "preferences", "nonsensitive_variables", "sensitive_variables", "keyterms"} {
				if _, ok := u[k]; !ok {
					t.Errorf("user lacks %s", k)
				}
			}
		})
	}
	for _, bad := range []string{"?limit=101", "?limit=-1", "?limit=x", "?sort_by=password", "?email=nope"} {
		if status, _ := c.do("GET", "/user/"+bad, nil); status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", bad, status)
		}
	}
}

func TestModifyUser(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newUser("m@example.com", "DefaultUserRole")
	get := func() map[string]any {
		_, body := c.do("GET", "/user/?user_id="+id, nil)
		return body["users"].([]any)[0].(map[string]any)
	}
	steps := []struct {
		name  string
		body  any
		want  int
		check func(u map[string]any) bool
	}{
		{"set language and zone", map[string]any{"preferred_language": "fra", "timezone": "Europe/Paris", "first_name": "Marie"},
			http.StatusNoContent, func(u map[string]any) bool {
				p := u["preferences"].(map[string]any)
				return p["preferred_language"] == "fra" && p["timezone"] == "Europe/Paris" && u["first_name"] == "Marie"
			}},
		{"not-set sentinels leave them", map[string]any{"preferred_language": map[string]any{}, "timezone": map[string]any{}, "audio_keyterms": []any{"amigo"}},
			http.StatusNoContent, func(u map[string]any) bool {
				p := u["preferences"].(map[string]any)
				kt := u["keyterms"].([]any)
				return p["preferred_language"] == "fra" && p["timezone"] == "Europe/Paris" && len(kt) == 1 && kt[0] == "amigo"
			}},
		{"null erases", map[string]any{"preferred_language": nil},
			http.StatusNoContent, func(u map[string]any) bool {
				return u["preferences"].(map[string]any)["preferred_language"] == nil
			}},
		{"bad language", map[string]any{"preferred_language": "french"}, http.StatusUnprocessableEntity, nil},
		{"bad zone", map[string]any{"timezone": "Nowhere/Land"}, http.StatusUnprocessableEntity, nil},
	}
	for _, s := range steps {
		status, body := c.do("POST", "/user/"+id, s.body)
		mustStatus(t, s.name, status, s.want, body)
		if status == http.StatusNoContent && body != nil {
			t.Errorf("%s: 204 with a body %v", s.name, body)
		}
		if s.check != nil && !s.check(get()) {
			t.Errorf("%s: user now %v", s.name, get())
		}
	}
}

func TestUnknownUserIs404(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	for _, id := range []string{"0123456789abcdef01234567", "not-an-id"} {
		for _, req := range []struct{ method, path string }{
			{"POST", "/user/" + id},
			{"DELETE", "/user/" + id},
			{"GET", "/user/" + id + "/user_model"},
			{"GET", "/user/" + id + "/memory"},
			{"POST", "/user/" + id + "/variable"},
		} {
			var body any
			if req.method == "POST" {
				body = map[string]any{}
			}
			if status, b := c.do(req.method, req.path, body); status != http.StatusNotFound {
				t.Errorf("%s %s: status %d, want 404 (%v)", req.method, req.path, status, b)
			}
		}
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newUser("gone@example.com", "DefaultUserRole")
	status, body := c.do("DELETE", "/user/"+id, nil)
	mustStatus(t, "delete", status, http.StatusNoContent, body)
	status, body = c.do("DELETE", "/user/"+id, nil)
	mustStatus(t, "delete again", status, http.StatusNotFound, body)
}

func TestUserModelMemoriesAndSearch(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newUser("grace.hopper@example.com", "DefaultUserRole")
	status, body := c.do("POST", "/user/"+id, map[string]any{"additional_context": []any{"Prefers short answers."}})
	mustStatus(t, "context", status, http.StatusNoContent, body)

	status, body = c.do("GET", "/user/"+id+"/user_model", nil)
	mustStatus(t, "user model", status, http.StatusOK, body)
	if models, ok := body["user_models"].([]any); !ok || len(models) != 0 {
		t.Errorf("user_models %v", body["user_models"])
	}
	if extra := body["additional_context"].([]any); len(extra) != 1 || extra[0] != "Prefers short answers." {
		t.Errorf("additional_context %v", extra)
	}

	status, body = c.do("GET", "/user/"+id+"/memory", nil)
	mustStatus(t, "memories", status, http.StatusOK, body)
	if body["has_more"] != false || body["continuation_token"] != nil || len(body["memories"].([]any)) != 0 {
		t.Errorf("memories %v", body)
	}
	if status, _ := c.do("GET", "/user/"+id+"/memory?id=xyz", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("memory id not hex: status %d, want 422", status)
	}

	status, body = c.do("GET", "/user/search/?query=HOPPER", nil)
	mustStatus(t, "search", status, http.StatusOK, body)
	if users := body["users"].([]any); len(users) != 1 || users[0].(map[string]any)["user_id"] != id {
		t.Errorf("search found %v", users)
	}
	if status, _ := c.do("GET", "/user/search/", nil); status != http.StatusUnprocessableEntity {
		t.Errorf("search without query: status %d, want 422", status)
	}
}

func TestModifyUserVariables(t *testing.T) {
	t.Parallel()
	_, c := newTestServer(t)
	id := c.newUser("vars@example.com", "DefaultUserRole")
	steps := []struct {
		name string
		body any
		want int
	}{
		{"upsert", map[string]any{"upserts": []any{
			map[string]any{"name": "plan", "value": "gold", "is_secret": false},
			map[string]any{"name": "token", "value": "s3cr3t", "is_secret": true},
		}}, http.StatusNoContent},
		{"delete unknown", map[string]any{"deletes": []any{map[string]any{"name": "nope"}}}, http.StatusBadRequest},
		{"upsert and delete one name", map[string]any{"upserts": []any{map[string]any{"name": "plan", "value": "x", "is_secret": false}},
			"deletes": []any{map[string]any{"name": "plan"}}}, http.StatusBadRequest},
		{"bad name", map[string]any{"upserts": []any{map[string]any{"name": "Plan", "value": "x", "is_secret": false}}}, http.StatusUnprocessableEntity},
		{"value too long", map[string]any{"upserts": []any{map[string]any{"name": "plan", "value": strings.Repeat("x", 256), "is_secret": false}}}, http.StatusUnprocessableEntity},
		{"delete", map[string]any{"deletes": []any{map[string]any{"name": "token"}}}, http.StatusNoContent},
	}
	for _, s := range steps {
		status, body := c.do("POST", "/user/"+id+"/variable", s.body)
		mustStatus(t, s.name, status, s.want, body)
	}
	_, body := c.do("GET", "/user/?user_id="+id, nil)
	u := body["users"].([]any)[0].(map[string]any)
	if vars := u["nonsensitive_variables"].(map[string]any); len(vars) != 1 || vars["plan"] != "gold" {
		t.Errorf("nonsensitive %v", vars)
	}
	if secrets := u["sensitive_variables"].([]any); len(secrets) != 0 {
		t.Errorf("sensitive %v, want none left", secrets)
	}
}
