// Package auth holds the pure parts of authentication and authorization:
// API-key secrets and their hashes, signed tokens, sealing of secrets at
// rest, permission names and the permission evaluator. Lookups go through
// the store; nothing here knows about HTTP.
package auth

// Permission is a "Resource:Action" permission name as the hosted API spells it.
type Permission string

// Permissions named by the hosted API reference. The reference spells a few
// with a dot ("User.DeleteUser"); they are written here with a colon like
// the rest.
const (
	AdminGetModels Permission = "Admin:GetModels"

	ConversationCreateConversation       Permission = "Conversation:CreateConversation"
	ConversationFinishConversation       Permission = "Conversation:FinishConversation"
	ConversationGetConversation          Permission = "Conversation:GetConversation"
	ConversationGetInteractionInsights   Permission = "Conversation:GetInteractionInsights"
	ConversationGetMessage               Permission = "Conversation:GetMessage"
	ConversationGetRecommendedResponses  Permission = "Conversation:GetRecommendedResponses"
	ConversationInteractWithConversation Permission = "Conversation:InteractWithConversation"
	ConversationModifyConversation       Permission = "Conversation:ModifyConversation"

	DynamicBehaviorCreate Permission = "DynamicBehaviorInstruction:CreateDynamicBehaviorInstruction"
	DynamicBehaviorDelete Permission = "DynamicBehaviorInstruction:DeleteDynamicBehaviorInstruction"
	DynamicBehaviorGet    Permission = "DynamicBehaviorInstruction:GetDynamicBehaviorInstruction"
	DynamicBehaviorUpdate Permission = "DynamicBehaviorInstruction:UpdateDynamicBehaviorInstruction"

	MetricCreateMetric              Permission = "Metric:CreateMetric"
	MetricDeleteMetric              Permission = "Metric:DeleteMetric"
	MetricEvaluateMetric            Permission = "Metric:EvaluateMetric"
	MetricGetMetric                 Permission = "Metric:GetMetric"
	MetricGetMetricEvaluationResult Permission = "Metric:GetMetricEvaluationResult"
	MetricModifyMetric              Permission = "Metric:ModifyMetric"

	OrganizationCreateAPIKey              Permission = "Organization:CreateAPIKey"
	OrganizationCreateAgent               Permission = "Organization:CreateAgent"
	OrganizationCreateAgentVersion        Permission = "Organization:CreateAgentVersion"
	OrganizationCreateOrganization        Permission = "Organization:CreateOrganization"
	OrganizationCreateStateMachine        Permission = "Organization:CreateServiceHierarchicalStateMachine"
	OrganizationCreateStateMachineVersion Permission = "Organization:CreateServiceHierarchicalStateMachineVersion"
	OrganizationDeleteAPIKey              Permission = "Organization:DeleteAPIKey"
	OrganizationDeleteAgent               Permission = "Organization:DeleteAgent"
	OrganizationDeleteOrganization        Permission = "Organization:DeleteOrganization"
	OrganizationDeleteStateMachine        Permission = "Organization:DeleteServiceHierarchicalStateMachine"
	OrganizationGetAPIKey                 Permission = "Organization:GetAPIKey"
	OrganizationGetAgent                  Permission = "Organization:GetAgent"
	OrganizationGetOrganizationDetails    Permission = "Organization:GetOrganizationDetails"
	OrganizationGetStateMachine           Permission = "Organization:GetServiceHierarchicalStateMachine"
	OrganizationModifyOrganization        Permission = "Organization:ModifyOrganization"

	RoleCreateRole                     Permission = "Role:CreateRole"
	RoleCreateTemporaryPermissionGrant Permission = "Role:CreateTemporaryPermissionGrant"
	RoleGetRole                        Permission = "Role:GetRole"
	RoleGetTemporaryPermissionGrant    Permission = "Role:GetTemporaryPermissionGrant"
	RoleModifyRole                     Permission = "Role:ModifyRole"

	ServiceCreateService    Permission = "Service:CreateService"
	ServiceCreateVersionSet Permission = "Service:CreateVersionSet"
	ServiceDeleteVersionSet Permission = "Service:DeleteVersionSet"
	ServiceGetService       Permission = "Service:GetService"
	ServiceGetVersionSet    Permission = "Service:GetVersionSet"
	ServiceUpdateService    Permission = "Service:UpdateService"
	ServiceUpdateVersionSet Permission = "Service:UpdateVersionSet"

	SimulationCancelUnitTestSetRun Permission = "Simulation:CancelSimulationUnitTestSetRun"
	SimulationCreatePersona        Permission = "Simulation:CreateSimulationPersona"
	SimulationCreateScenario       Permission = "Simulation:CreateSimulationScenario"
	SimulationCreateUnitTest       Permission = "Simulation:CreateSimulationUnitTest"
	SimulationCreateUnitTestSet    Permission = "Simulation:CreateSimulationUnitTestSet"
	SimulationCreateUnitTestSetRun Permission = "Simulation:CreateSimulationUnitTestSetRun"
	SimulationDeletePersona        Permission = "Simulation:DeleteSimulationPersona"
	SimulationDeleteScenario       Permission = "Simulation:DeleteSimulationScenario"
	SimulationDeleteUnitTest       Permission = "Simulation:DeleteSimulationUnitTest"
	SimulationDeleteUnitTestSet    Permission = "Simulation:DeleteSimulationUnitTestSet"
	SimulationGetPersona           Permission = "Simulation:GetSimulationPersona"
	SimulationGetScenario          Permission = "Simulation:GetSimulationScenario"
	SimulationGetUnitTest          Permission = "Simulation:GetSimulationUnitTest"
	SimulationGetUnitTestSet       Permission = "Simulation:GetSimulationUnitTestSet"
	SimulationGetUnitTestSetRun    Permission = "Simulation:GetSimulationUnitTestSetRun"
	SimulationModifyPersona        Permission = "Simulation:ModifySimulationPersona"
	SimulationModifyScenario       Permission = "Simulation:ModifySimulationScenario"
	SimulationModifyUnitTest       Permission = "Simulation:ModifySimulationUnitTest"
	SimulationModifyUnitTestSet    Permission = "Simulation:ModifySimulationUnitTestSet"

	ToolCreateTool Permission = "Tool:CreateTool"
	ToolDeleteTool Permission = "Tool:DeleteTool"
	ToolInvokeTool Permission = "Tool:InvokeTool"
	ToolModifyTool Permission = "Tool:ModifyTool"

	UserDeleteUser     Permission = "User:DeleteUser"
	UserGetUserInfo    Permission = "User:GetUserInfo"
	UserGetUserModel   Permission = "User:GetUserModel"
	UserInviteUser     Permission = "User:InviteUser"
	UserUpdateUserInfo Permission = "User:UpdateUserInfo"

	WebhookCreateDestination Permission = "Webhook:CreateWebhookDestination"
	WebhookDeleteDestination Permission = "Webhook:DeleteWebhookDestination"
	WebhookGetDeliveries     Permission = "Webhook:GetWebhookDeliveries"
	WebhookGetDestination    Permission = "Webhook:GetWebhookDestination"
	WebhookUpdateDestination Permission = "Webhook:UpdateWebhookDestination"
)

// AllPermissions lists every permission, in the order above.
var AllPermissions = []Permission{
	AdminGetModels,
	ConversationCreateConversation, ConversationFinishConversation, ConversationGetConversation,
	ConversationGetInteractionInsights, ConversationGetMessage, ConversationGetRecommendedResponses,
	ConversationInteractWithConversation, ConversationModifyConversation,
	DynamicBehaviorCreate, DynamicBehaviorDelete, DynamicBehaviorGet, DynamicBehaviorUpdate,
	MetricCreateMetric, MetricDeleteMetric, MetricEvaluateMetric, MetricGetMetric,
	MetricGetMetricEvaluationResult, MetricModifyMetric,
	OrganizationCreateAPIKey, OrganizationCreateAgent, OrganizationCreateAgentVersion,
	OrganizationCreateOrganization, OrganizationCreateStateMachine, OrganizationCreateStateMachineVersion,
	OrganizationDeleteAPIKey, OrganizationDeleteAgent, OrganizationDeleteOrganization,
	OrganizationDeleteStateMachine, OrganizationGetAPIKey, OrganizationGetAgent,
	OrganizationGetOrganizationDetails, OrganizationGetStateMachine, OrganizationModifyOrganization,
	RoleCreateRole, RoleCreateTemporaryPermissionGrant, RoleGetRole, RoleGetTemporaryPermissionGrant, RoleModifyRole,
	ServiceCreateService, ServiceCreateVersionSet, ServiceDeleteVersionSet, ServiceGetService,
	ServiceGetVersionSet, ServiceUpdateService, ServiceUpdateVersionSet,
	SimulationCancelUnitTestSetRun, SimulationCreatePersona, SimulationCreateScenario, SimulationCreateUnitTest,
	SimulationCreateUnitTestSet, SimulationCreateUnitTestSetRun, SimulationDeletePersona, SimulationDeleteScenario,
	SimulationDeleteUnitTest, SimulationDeleteUnitTestSet, SimulationGetPersona, SimulationGetScenario,
	SimulationGetUnitTest, SimulationGetUnitTestSet, SimulationGetUnitTestSetRun, SimulationModifyPersona,
	SimulationModifyScenario, SimulationModifyUnitTest, SimulationModifyUnitTestSet,
	ToolCreateTool, ToolDeleteTool, ToolInvokeTool, ToolModifyTool,
	UserDeleteUser, UserGetUserInfo, UserGetUserModel, UserInviteUser, UserUpdateUserInfo,
	WebhookCreateDestination, WebhookDeleteDestination, WebhookGetDeliveries, WebhookGetDestination,
	WebhookUpdateDestination,
}

// Known reports whether p is a permission the API defines.
func Known(p Permission) bool {
	for _, q := range AllPermissions {
		if p == q {
			return true
		}
	}
	return false
}
