package auth

import (
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/store"
)

func TestPermits(t *testing.T) {
	org := Attributes{AttrOrgID: "alpha"}
	tests := []struct {
		name  string
		conds map[string]store.Condition
		want  bool
	}{
		{"unconditional", nil, true},
		{"organization matches", map[string]store.Condition{AttrOrgID: {Type: "Equals", Value: "alpha"}}, true},
		{"organization does not match", map[string]store.Condition{AttrOrgID: {Type: "Equals", Value: "beta"}}, false},
		{"condition on the resource is left pending", map[string]store.Condition{AttrUserID: {Type: "Equals", Value: "u1"}}, true},
		{"known condition fails though another is pending", map[string]store.Condition{
			AttrUserID: {Type: "Equals", Value: "u1"}, AttrOrgID: {Type: "NotEquals", Value: "alpha"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Permits([]store.PermissionGrant{grant(UserGetUserInfo, tc.conds)}, UserGetUserInfo, org); got != tc.want {
				t.Errorf("Permits = %v, want %v", got, tc.want)
			}
		})
	}
	if Permits([]store.PermissionGrant{grant(UserGetUserModel, nil)}, UserGetUserInfo, org) {
		t.Error("a grant of another permission permits")
	}
}

func TestCheckGrant(t *testing.T) {
	eq := func(v any) store.Condition { return store.Condition{Type: "Equals", Value: v} }
	tests := []struct {
		name  string
		grant store.PermissionGrant
		// says is part of the one problem expected, or "" for none.
		says string
	}{
		{"unconditional", grant(ToolInvokeTool, nil), ""},
		{"every key of the permission", grant(ToolInvokeTool, map[string]store.Condition{
			AttrOrgID: eq("o"), AttrToolID: eq("t"), AttrName: eq("n")}), ""},
		{"in of strings", grant(UserGetUserInfo, map[string]store.Condition{AttrRoleID: {Type: "In", Values: []any{"a", "b"}}}), ""},
		{"finish conversation is a permission", grant(ConversationFinishConversation, nil), ""},
		{"unknown permission", store.PermissionGrant{PermissionName: "User:Fly"}, "Unknown permission"},
		{"key of another permission", grant(ToolCreateTool, map[string]store.Condition{AttrToolID: eq("t")}), `Unknown condition key "tool_id"`},
		{"organization-only permission", grant(OrganizationModifyOrganization, map[string]store.Condition{AttrUserID: eq("u")}), "supported keys are org_id"},
		{"number value", grant(UserGetUserInfo, map[string]store.Condition{AttrUserID: eq(1.0)}), "must be a string"},
		{"number in values", grant(UserGetUserInfo, map[string]store.Condition{AttrUserID: {Type: "In", Values: []any{"a", true}}}), "must be strings"},
		{"unknown type", grant(UserGetUserInfo, map[string]store.Condition{AttrUserID: {Type: "Like", Value: "a"}}), "Unknown condition type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems := CheckGrant(tc.grant)
			if tc.says == "" {
				if len(problems) != 0 {
					t.Fatalf("problems %v, want none", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0].Msg, tc.says) {
				t.Fatalf("problems %v, want one saying %q", problems, tc.says)
			}
		})
	}
	for _, p := range AllPermissions {
		if keys := ConditionKeys(p); len(keys) == 0 || keys[0] != AttrOrgID {
			t.Errorf("%s: condition keys %v do not start with org_id", p, keys)
		}
	}
}
