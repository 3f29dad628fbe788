package auth

import (
	"strings"
	"testing"

	"github.com/compadre-dev/compadre/store"
)

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
