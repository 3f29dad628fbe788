package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/compadre-dev/compadre/auth"
	"github.com/compadre-dev/compadre/store"
)

func TestEveryRoutePermissionIsDecidedOnce(t *testing.T) {
	grants := []store.PermissionGrant{
		{PermissionName: string(auth.OrganizationCreateAPIKey)},
		{PermissionName: string(auth.ToolModifyTool), Conditions: map[string]store.Condition{
			auth.AttrName: {Type: "Equals", Value: "mine"}}},
	}
	tests := []struct {
		name  string
		perms []auth.Permission
		// decide runs as the handler would, after the pipeline.
		decide     func(st *requestState) error
		status     int
		wantStatus int
	}{
		{"organization-scoped, decided by the pipeline", []auth.Permission{auth.OrganizationCreateAPIKey},
			func(*requestState) error { return nil }, http.StatusCreated, http.StatusCreated},
		{"resource-scoped, decided by the handler", []auth.Permission{auth.ToolModifyTool},
			func(st *requestState) error {
				return st.allow(auth.ToolModifyTool, auth.Attributes{auth.AttrOrgID: "o", auth.AttrName: "mine"})
			}, http.StatusOK, http.StatusOK},
		{"resource-scoped, refused by the handler", []auth.Permission{auth.ToolModifyTool},
			func(st *requestState) error {
				return st.allow(auth.ToolModifyTool, auth.Attributes{auth.AttrOrgID: "o", auth.AttrName: "theirs"})
			}, http.StatusForbidden, http.StatusForbidden},
		{"resource-scoped, forgotten by the handler", []auth.Permission{auth.ToolModifyTool},
			func(*requestState) error { return nil }, http.StatusOK, http.StatusInternalServerError},
		{"forgotten, but the handler fails anyway", []auth.Permission{auth.ToolModifyTool},
			func(*requestState) error { return nil }, http.StatusNotFound, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &requestState{principal: &store.Principal{Grants: grants}}
			if err := st.decideOrgScoped(tt.perms, "o"); err != nil {
				t.Fatalf("pipeline refused: %v", err)
			}
			if err := tt.decide(st); err != nil && tt.status != http.StatusForbidden {
				t.Fatalf("handler refused: %v", err)
			}
			w := httptest.NewRecorder()
			rec := &statusRecorder{ResponseWriter: w, st: st, log: slog.New(slog.DiscardHandler),
				r: httptest.NewRequest("GET", "/", nil)}
			rec.WriteHeader(tt.status)
			_, _ = rec.Write([]byte(`{"ok":true}`))
			if w.Code != tt.wantStatus || rec.status != tt.wantStatus {
				t.Errorf("got status %d (recorded %d), want %d", w.Code, rec.status, tt.wantStatus)
			}
			if tt.wantStatus == http.StatusInternalServerError && w.Body.String() != `{"detail":"Internal Server Error"}` {
				t.Errorf("got body %s, want the generic 500", w.Body)
			}
		})
	}
}

func TestPipelineRefusesOrganizationScopedPermission(t *testing.T) {
	st := &requestState{principal: &store.Principal{}}
	if err := st.decideOrgScoped([]auth.Permission{auth.OrganizationCreateAPIKey}, "o"); err == nil {
		t.Fatal("got nil, want a 403 for a permission held under no grant")
	}
	if len(st.pending) != 0 {
		t.Errorf("got pending %v, want none", st.pending)
	}
}
