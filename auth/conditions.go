package auth

import (
	"fmt"
	"slices"
	"strings"

	"github.com/compadre-dev/compadre/store"
)

// Attribute names grant conditions may test. Every attribute is a string.
const (
	AttrOrgID          = "org_id"
	AttrUserID         = "user_id"
	AttrRoleID         = "role_id"
	AttrName           = "name"
	AttrToolID         = "tool_id"
	AttrKeyID          = "key_id"
	AttrConversationID = "conversation_id"
	AttrPermissionName = "permission_name"
	AttrAgentID        = "agent_id"
	AttrStateMachineID = "service_hierarchical_state_machine_id"
	AttrServiceID      = "service_id"
	AttrVersionSetName = "version_set_name"
	AttrBehaviorSetID  = "dynamic_behavior_set_id"
	AttrMetricID       = "metric_id"
)

// conditionKeys lists, for each permission checked against more than the
// organization, the attributes the server supplies when it checks it. A
// condition on anything else could never be evaluated, so it is refused when
// a role or grant is stored instead of silently never matching. Permissions
// not listed are checked against the organization alone. DECISIONS.md, "Which
// attributes can a grant's conditions test?", documents this table.
var conditionKeys = map[Permission][]string{
	UserGetUserInfo:    {AttrOrgID, AttrUserID, AttrRoleID},
	UserUpdateUserInfo: {AttrOrgID, AttrUserID, AttrRoleID},
	UserDeleteUser:     {AttrOrgID, AttrUserID, AttrRoleID},
	UserGetUserModel:   {AttrOrgID, AttrUserID, AttrRoleID},

	ToolCreateTool: {AttrOrgID, AttrName},
	ToolModifyTool: {AttrOrgID, AttrToolID, AttrName},
	ToolDeleteTool: {AttrOrgID, AttrToolID, AttrName},
	ToolInvokeTool: {AttrOrgID, AttrToolID, AttrName},

	OrganizationGetAPIKey:    {AttrOrgID, AttrKeyID},
	OrganizationDeleteAPIKey: {AttrOrgID, AttrKeyID},

	ConversationGetInteractionInsights: {AttrOrgID, AttrToolID, AttrConversationID, AttrUserID},
	SimulationGetUnitTestSetRun:        {AttrOrgID, AttrToolID, AttrConversationID, AttrUserID},

	RoleCreateRole: {AttrOrgID, AttrName},
	RoleGetRole:    {AttrOrgID, AttrRoleID, AttrName},
	RoleModifyRole: {AttrOrgID, AttrRoleID, AttrName},

	OrganizationCreateAgent:               {AttrOrgID, AttrName},
	OrganizationGetAgent:                  {AttrOrgID, AttrAgentID, AttrName},
	OrganizationCreateAgentVersion:        {AttrOrgID, AttrAgentID, AttrName},
	OrganizationDeleteAgent:               {AttrOrgID, AttrAgentID, AttrName},
	OrganizationCreateStateMachine:        {AttrOrgID, AttrName},
	OrganizationGetStateMachine:           {AttrOrgID, AttrStateMachineID, AttrName},
	OrganizationCreateStateMachineVersion: {AttrOrgID, AttrStateMachineID, AttrName},
	OrganizationDeleteStateMachine:        {AttrOrgID, AttrStateMachineID, AttrName},

	ServiceCreateService:    {AttrOrgID, AttrName},
	ServiceGetService:       {AttrOrgID, AttrServiceID, AttrName},
	ServiceUpdateService:    {AttrOrgID, AttrServiceID, AttrName},
	ServiceCreateVersionSet: {AttrOrgID, AttrServiceID, AttrVersionSetName},
	ServiceUpdateVersionSet: {AttrOrgID, AttrServiceID, AttrVersionSetName},
	ServiceDeleteVersionSet: {AttrOrgID, AttrServiceID, AttrVersionSetName},

	DynamicBehaviorCreate: {AttrOrgID, AttrName},
	DynamicBehaviorGet:    {AttrOrgID, AttrBehaviorSetID, AttrName},
	DynamicBehaviorUpdate: {AttrOrgID, AttrBehaviorSetID, AttrName},
	DynamicBehaviorDelete: {AttrOrgID, AttrBehaviorSetID, AttrName},

	MetricCreateMetric:              {AttrOrgID, AttrName},
	MetricGetMetric:                 {AttrOrgID, AttrMetricID, AttrName},
	MetricModifyMetric:              {AttrOrgID, AttrMetricID, AttrName},
	MetricDeleteMetric:              {AttrOrgID, AttrMetricID, AttrName},
	MetricEvaluateMetric:            {AttrOrgID, AttrMetricID, AttrName},
	MetricGetMetricEvaluationResult: {AttrOrgID, AttrMetricID, AttrName},

	ConversationCreateConversation:       {AttrOrgID, AttrServiceID, AttrUserID},
	ConversationGetConversation:          {AttrOrgID, AttrConversationID, AttrServiceID, AttrUserID},
	ConversationGetMessage:               {AttrOrgID, AttrConversationID, AttrServiceID, AttrUserID},
	ConversationModifyConversation:       {AttrOrgID, AttrConversationID, AttrServiceID, AttrUserID},
	ConversationFinishConversation:       {AttrOrgID, AttrConversationID, AttrServiceID, AttrUserID},
	ConversationInteractWithConversation: {AttrOrgID, AttrConversationID, AttrServiceID, AttrUserID},

	RoleCreateTemporaryPermissionGrant: {AttrOrgID, AttrUserID, AttrPermissionName},
	RoleGetTemporaryPermissionGrant:    {AttrOrgID, AttrUserID, AttrPermissionName},
}

// ConditionKeys returns the attributes grants of p may be conditioned on.
func ConditionKeys(p Permission) []string {
	if keys, ok := conditionKeys[p]; ok {
		return keys
	}
	return []string{AttrOrgID}
}

// GrantProblem is one thing wrong with a permission grant, at Loc within it
// (e.g. ["conditions", "user_id", "value"]).
type GrantProblem struct {
	Loc []any
	Msg string
}

// CheckGrant returns what is wrong with a grant someone wants stored: an
// unknown permission, a condition on an attribute the permission is never
// checked against, or a condition value that is not a string.
func CheckGrant(g store.PermissionGrant) []GrantProblem {
	p := Permission(g.PermissionName)
	if !Known(p) {
		return []GrantProblem{{Loc: []any{"permission_name"}, Msg: fmt.Sprintf("Unknown permission %q", g.PermissionName)}}
	}
	keys := ConditionKeys(p)
	attrs := make([]string, 0, len(g.Conditions))
	for attr := range g.Conditions {
		attrs = append(attrs, attr)
	}
	slices.Sort(attrs)
	var out []GrantProblem
	for _, attr := range attrs {
		c := g.Conditions[attr]
		loc := []any{"conditions", attr}
		if !slices.Contains(keys, attr) {
			out = append(out, GrantProblem{Loc: loc, Msg: fmt.Sprintf("Unknown condition key %q for %s; supported keys are %s",
				attr, p, strings.Join(keys, ", "))})
			continue
		}
		switch c.Type {
		case "Equals", "NotEquals":
			if _, ok := c.Value.(string); !ok {
				out = append(out, GrantProblem{Loc: append(loc, "value"), Msg: "The value of " + attr + " must be a string"})
			}
		case "In":
			for i, v := range c.Values {
				if _, ok := v.(string); !ok {
					out = append(out, GrantProblem{Loc: append(loc, "values", i), Msg: "The values of " + attr + " must be strings"})
				}
			}
		default:
			out = append(out, GrantProblem{Loc: append(loc, "type"), Msg: fmt.Sprintf("Unknown condition type %q", c.Type)})
		}
	}
	return out
}
