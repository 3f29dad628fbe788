package httpapi

import (
	a "github.com/compadre-dev/compadre/auth"
)

type perms = []a.Permission

// routes is the API: one line per operation with its method, path,
// operationId, authentication, required permissions, rate limit per minute
// and handler. Together the lines are the permission matrix.
func (s *Server) routes() []route {
	const org = "/v1/{organization}"
	const sm = org + "/organization/service_hierarchical_state_machine"
	const sets = org + "/dynamic_behavior_set/"
	const set = sets + "{dynamic_behavior_set_id}/"
	const metrics = org + "/metric/"
	const metric = metrics + "{metric_id}/"
	const personas = org + "/simulation/persona/"
	const persona = personas + "{simulation_persona_id}/"
	const scenarios = org + "/simulation/scenario/"
	const scenario = scenarios + "{simulation_scenario_id}/"
	const unitTests = org + "/simulation/unit_test/"
	const unitTest = unitTests + "{simulation_unit_test_id}/"
	const unitTestSets = org + "/simulation/unit_test_set/"
	const unitTestSet = unitTestSets + "{simulation_unit_test_set_id}"
	const hooks = org + "/webhook_destination/"
	const hook = hooks + "{webhook_destination_id}"
	const runs = org + "/simulation/unit_test_set_run/"
	const run = runs + "{simulation_unit_test_set_run_id}/"
	const ctl = ControlPrefix
	return []route{
		{"GET", "/healthz", "healthz", authNone, nil, 0, s.healthz},
		{"GET", "/readyz", "readyz", authNone, nil, 0, s.readyz},
		{"GET", "/metrics", "metrics", authNone, nil, 0, s.metricsHandler()},
		{"GET", "/v1/openapi.json", "get-openapi-document", authNone, nil, 0, s.getOpenAPIDocument},

		{"GET", org + "/organization/", "get-organization", authOptional, nil, 0, s.getOrganization},
		{"PUT", org + "/organization/", "create-organization", authCrossOrg, perms{a.OrganizationCreateOrganization}, 5, s.createOrganization},
		{"POST", org + "/organization/", "modify-organization", authRequired, perms{a.OrganizationModifyOrganization}, 10, s.modifyOrganization},
		{"DELETE", org + "/organization/", "delete-organization", authRequired, perms{a.OrganizationDeleteOrganization}, 5, s.deleteOrganization},
		{"GET", org + "/organization/user_dimensions/", "get-user-dimensions", authRequired, perms{a.OrganizationGetOrganizationDetails}, 20, s.getUserDimensions},
		{"POST", org + "/organization/api_key/", "create-api-key", authRequired, perms{a.OrganizationCreateAPIKey}, 5, s.createAPIKey},
		{"GET", org + "/organization/api_key/", "get-api-keys", authRequired, nil, 10, s.getAPIKeys},
		{"DELETE", org + "/organization/api_key/{api_key_id}/", "delete-api-key", authRequired, perms{a.OrganizationDeleteAPIKey}, 10, s.deleteAPIKey},

		{"POST", org + "/user/signin_with_api_key", "sign-in-with-api-key", authNone, nil, 5, s.signInWithAPIKey},
		// Its limits, per email and per client address, are its own: see
		// signInWithEmail. Exchanging a mailed link is Compadre's own operation.
		{"POST", org + "/user/signin", "sign-in-with-email", authNone, nil, 0, s.signInWithEmail},
		{"POST", org + "/user/signin_with_email_link", "sign-in-with-email-link", authNone, nil, 20, s.signInWithEmailLink},
		{"POST", org + "/user/", "create-user", authRequired, perms{a.UserInviteUser}, 50, s.createUser},
		{"GET", org + "/user/", "get-users", authRequired, nil, 60, s.getUsers},
		{"GET", org + "/user/search/", "search-users", authRequired, nil, 50, s.searchUsers},
		{"POST", org + "/user/{requested_user_id}", "modify-user", authRequired, perms{a.UserUpdateUserInfo}, 50, s.modifyUser},
		{"DELETE", org + "/user/{requested_user_id}", "delete-user", authRequired, perms{a.UserDeleteUser}, 500, s.deleteUser},
		{"GET", org + "/user/{user_id}/user_model", "get-user-model", authRequired, perms{a.UserGetUserModel}, 60, s.getUserModel},
		{"GET", org + "/user/{user_id}/memory", "get-memories", authRequired, nil, 40, s.getMemories},
		{"POST", org + "/user/{requested_user_id}/variable", "modify-user-variables", authRequired, perms{a.UserUpdateUserInfo}, 50, s.modifyUserVariables},

		// Fixed paths come before /role/{role_name}.
		{"POST", org + "/role/temporary_permission_grant/", "create-temporary-permission-grant", authRequired, perms{a.RoleCreateTemporaryPermissionGrant}, 100, s.createTemporaryGrant},
		{"GET", org + "/role/temporary_permission_grants/", "get-temporary-permission-grants", authRequired, nil, 100, s.getTemporaryGrants},
		{"POST", org + "/role/", "create-role", authRequired, perms{a.RoleCreateRole}, 20, s.createRole},
		{"GET", org + "/role/", "get_roles_v1__organization__role__get", authRequired, nil, 20, s.getRoles},
		{"POST", org + "/role/{role_name}", "modify-role", authRequired, perms{a.RoleModifyRole}, 10, s.modifyRole},
		{"POST", org + "/role/{role_name}/assign", "assign-role", authRequired, nil, 1000, s.assignRole},

		// Fixed paths come before /tool/{tool_id}, which would match them.
		{"GET", org + "/tool/amigo_tool_scaffold.tar.gz", "get-tool-scaffold-release", authRequired, nil, 50, s.getToolScaffold},
		{"POST", org + "/tool/test", "test-tool", authRequired, nil, 1, s.testTool},
		{"GET", org + "/tool/invocation", "get-tool-invocations", authRequired, nil, 50, s.getToolInvocations},
		{"GET", org + "/tool/invocation/search", "search-tool-invocations", authRequired, nil, 50, s.searchToolInvocations},
		{"POST", org + "/tool/", "create-tool", authRequired, perms{a.ToolCreateTool}, 20, s.createTool},
		{"GET", org + "/tool/", "get-tools", authRequired, nil, 50, s.getTools},
		{"POST", org + "/tool/{tool_id}", "modify-tool", authRequired, perms{a.ToolModifyTool}, 20, s.modifyTool},
		{"DELETE", org + "/tool/{tool_id}", "deprecate-tool", authRequired, perms{a.ToolDeleteTool}, 20, s.deprecateTool},
		{"POST", org + "/tool/{tool_id}/envvar", "modify-tool-envvars", authRequired, perms{a.ToolModifyTool}, 20, s.modifyToolEnvVars},
		{"POST", org + "/tool/{tool_id}/version", "publish-tool-version", authRequired, perms{a.ToolModifyTool}, 10, s.publishToolVersion},
		{"GET", org + "/tool/{tool_id}/version", "get-tool-versions", authRequired, nil, 50, s.getToolVersions},
		{"DELETE", org + "/tool/{tool_id}/version/{versions}", "deprecate-tool-version", authRequired, perms{a.ToolModifyTool}, 20, s.deprecateToolVersions},
		{"POST", org + "/tool/{tool_id}/version/{version}/invoke", "invoke-tool-version", authRequired, perms{a.ToolInvokeTool}, 10, s.invokeToolVersion},

		{"POST", org + "/organization/agent", "create-agent", authRequired, perms{a.OrganizationCreateAgent}, 10, s.createAgent},
		{"GET", org + "/organization/agent", "get-agents", authRequired, nil, 20, s.getAgents},
		{"POST", org + "/organization/agent/{agent_id}/", "create-agent-version", authRequired, perms{a.OrganizationCreateAgentVersion}, 10, s.createAgentVersion},
		{"DELETE", org + "/organization/agent/{agent_id}/", "delete-agent", authRequired, perms{a.OrganizationDeleteAgent}, 10, s.deleteAgent},
		{"GET", org + "/organization/agent/{agent_id}/version", "get-agent-versions", authRequired, perms{a.OrganizationGetAgent}, 20, s.getAgentVersions},

		{"POST", sm, "create-service-hierarchical-state-machine", authRequired, perms{a.OrganizationCreateStateMachine}, 10, s.createStateMachine},
		{"GET", sm, "get-service-hierarchical-state-machines", authRequired, nil, 20, s.getStateMachines},
		{"POST", sm + "/{service_hierarchical_state_machine_id}/", "create-service-hierarchical-state-machine-version", authRequired, perms{a.OrganizationCreateStateMachineVersion}, 10, s.createStateMachineVersion},
		{"DELETE", sm + "/{service_hierarchical_state_machine_id}/", "delete-service-hierarchical-state-machine", authRequired, perms{a.OrganizationDeleteStateMachine}, 10, s.deleteStateMachine},
		{"GET", sm + "/{service_hierarchical_state_machine_id}/version", "get-service-hierarchical-state-machine-versions", authRequired, perms{a.OrganizationGetStateMachine}, 20, s.getStateMachineVersions},

		// Listing filters by Service:GetService instead of refusing, and
		// upserting a version set needs Service:CreateVersionSet or
		// Service:UpdateVersionSet depending on whether it exists, so those
		// check in the handler alone.
		{"GET", org + "/service/", "get-services", authRequired, nil, 50, s.getServices},
		{"POST", org + "/service/", "create-service", authRequired, perms{a.ServiceCreateService, a.ServiceCreateVersionSet}, 20, s.createService},
		{"PUT", org + "/service/{service_id}/version_sets/{version_set_name}/", "upsert-service-version-set", authRequired, nil, 30, s.upsertServiceVersionSet},
		{"DELETE", org + "/service/{service_id}/version_sets/{version_set_name}/", "delete-service-version-set", authRequired, perms{a.ServiceDeleteVersionSet}, 30, s.deleteServiceVersionSet},
		{"POST", org + "/service/{service_id}/", "update-service", authRequired, perms{a.ServiceUpdateService}, 20, s.updateService},

		// Conversation:GetInteractionInsights only decides which events
		// create-conversation streams, so it is not required; reading
		// conversations and messages filters or refuses per conversation.
		{"POST", org + "/conversation/", "create-conversation", authRequired, perms{a.ConversationCreateConversation}, 5, s.createConversation},
		{"GET", org + "/conversation/", "get-conversations", authRequired, nil, 15, s.getConversations},
		{"GET", org + "/conversation/{conversation_id}/messages/", "get-conversation-messages", authRequired, nil, 20, s.getConversationMessages},
		{"POST", org + "/conversation/{conversation_id}/finish/", "finish-conversation", authRequired, perms{a.UserUpdateUserInfo, a.ConversationFinishConversation}, 5, s.finishConversation},
		{"POST", org + "/conversation/{conversation_id}/tags/", "modify-tags-of-conversation", authRequired, perms{a.ConversationModifyConversation}, 50, s.modifyTagsOfConversation},
		// Conversation:GetInteractionInsights only decides which events
		// an interaction streams; Conversation:GetMessage on insights only
		// decides whether reflections are shown.
		{"POST", org + "/conversation/{conversation_id}/interact", "interact-with-conversation", authRequired, perms{a.UserUpdateUserInfo, a.ConversationInteractWithConversation}, 15, s.interactWithConversation},
		{"GET", org + "/conversation/{conversation_id}/interaction/{interaction_id}/insights", "get-interaction-insights", authRequired, perms{a.ConversationGetInteractionInsights, a.OrganizationGetStateMachine}, 20, s.getInteractionInsights},
		{"POST", org + "/conversation/{conversation_id}/interaction/{interaction_id}/recommend_responses", "recommend-responses-for-interaction", authRequired, perms{a.ConversationGetRecommendedResponses}, 20, s.recommendResponses},
		{"GET", org + "/conversation/{conversation_id}/messages/{message_id}/source", "retrieve-message-source", authRequired, perms{a.ConversationGetMessage}, 30, s.retrieveMessageSource},
		{"POST", org + "/conversation/conversation_starter", "generate-conversation-starter", authRequired, perms{a.ConversationCreateConversation}, 10, s.generateConversationStarter},
		// A message source's URL carries its own sealed, expiring token.
		{"GET", "/audio/{token}", "download-message-audio", authNone, nil, 0, s.serveBlob(sourceLabel)},
		// So does a simulation run's artifacts URL.
		{"GET", "/artifacts/{token}", "download-simulation-artifacts", authNone, nil, 0, s.serveBlob(artifactsLabel)},

		// The fixed search path comes before the paths naming a set.
		{"GET", sets + "search", "search-dynamic-behavior-sets", authRequired, nil, 50, s.searchDynamicBehaviorSets},
		{"POST", sets, "create-dynamic-behavior-set", authRequired, perms{a.DynamicBehaviorCreate, a.DynamicBehaviorUpdate}, 200, s.createDynamicBehaviorSet},
		{"GET", sets, "get-dynamic-behavior-sets", authRequired, nil, 500, s.getDynamicBehaviorSets},
		{"DELETE", set, "delete-dynamic-behavior-instruction", authRequired, perms{a.DynamicBehaviorDelete}, 500, s.deleteDynamicBehaviorInstruction},
		{"POST", set, "update-dynamic-behavior-set", authRequired, perms{a.DynamicBehaviorUpdate}, 500, s.updateDynamicBehaviorSet},
		{"POST", set + "version/", "create-dynamic-behavior-set-version", authRequired, perms{a.DynamicBehaviorUpdate}, 200, s.createDynamicBehaviorSetVersion},
		{"GET", set + "version/", "get-dynamic-behavior-set-versions", authRequired, perms{a.DynamicBehaviorGet}, 1000, s.getDynamicBehaviorSetVersions},
		{"GET", set + "invocation/", "get-dynamic-behavior-invocations", authRequired, perms{a.DynamicBehaviorGet}, 50, s.getDynamicBehaviorInvocations},

		// The fixed search path comes before the paths naming a metric.
		// Listing and searching filter by Metric:GetMetric instead of refusing.
		{"GET", metrics + "search/", "search-metrics", authRequired, nil, 20, s.searchMetrics},
		{"POST", metrics, "create-metric", authRequired, perms{a.MetricCreateMetric}, 100, s.createMetric},
		{"GET", metrics, "get-metrics", authRequired, nil, 20, s.getMetrics},
		{"POST", metric, "update-metric", authRequired, perms{a.MetricModifyMetric}, 20, s.updateMetric},
		{"DELETE", metric, "delete-metric", authRequired, perms{a.MetricDeleteMetric}, 100, s.deleteMetric},
		{"POST", metric + "version/", "create-metric-version", authRequired, perms{a.MetricModifyMetric}, 60, s.createMetricVersion},
		{"GET", metric + "version", "get-metric-versions", authRequired, perms{a.MetricGetMetric}, 60, s.getMetricVersions},
		{"POST", metrics + "evaluate", "evaluate-metrics", authRequired, perms{a.MetricGetMetric, a.MetricEvaluateMetric, a.MetricGetMetricEvaluationResult}, 50, s.evaluateMetrics},
		{"GET", metrics + "metric_evaluation_result", "get-metric-evaluation-results", authRequired, nil, 10, s.getMetricEvaluationResults},

		// The simulation's building blocks. Their permissions depend on the
		// organization alone; listings and searches show nothing to a caller
		// without the read permission instead of refusing. Search paths come
		// before the paths naming a record.
		{"GET", personas + "search", "search-simulation-personas", authRequired, nil, 50, s.searchSimulationRecords(personasAPI)},
		{"POST", personas, "create-simulation-persona", authRequired, perms{a.SimulationCreatePersona, a.SimulationModifyPersona}, 100, s.createPersona},
		{"GET", personas, "get-simulation-personas", authRequired, nil, 50, s.getSimulationRecords(personasAPI)},
		{"POST", persona, "update-simulation-persona", authRequired, perms{a.SimulationModifyPersona}, 100, s.updateSimulationRecord(personasAPI)},
		{"DELETE", persona, "delete-simulation-persona", authRequired, perms{a.SimulationDeletePersona}, 100, s.deleteSimulationRecord(personasAPI)},
		{"POST", persona + "version/", "create-simulation-persona-version", authRequired, perms{a.SimulationModifyPersona}, 100, s.createPersonaVersion},
		{"GET", persona + "version/", "get-simulation-persona-versions", authRequired, perms{a.SimulationGetPersona}, 50, s.getPersonaVersions},
		{"GET", scenarios + "search", "search-simulation-scenarios", authRequired, nil, 50, s.searchSimulationRecords(scenariosAPI)},
		{"POST", scenarios, "create-simulation-scenario", authRequired, perms{a.SimulationCreateScenario, a.SimulationModifyScenario}, 500, s.createScenario},
		{"GET", scenarios, "get-simulation-scenarios", authRequired, nil, 200, s.getSimulationRecords(scenariosAPI)},
		{"POST", scenario, "update-simulation-scenario", authRequired, perms{a.SimulationModifyScenario}, 500, s.updateSimulationRecord(scenariosAPI)},
		{"DELETE", scenario, "delete-simulation-scenario", authRequired, perms{a.SimulationDeleteScenario}, 500, s.deleteSimulationRecord(scenariosAPI)},
		{"POST", scenario + "version/", "create-simulation-scenario-version", authRequired, perms{a.SimulationModifyScenario}, 500, s.createScenarioVersion},
		{"GET", scenario + "version/", "get-simulation-scenario-versions", authRequired, perms{a.SimulationGetScenario}, 500, s.getScenarioVersions},
		{"GET", unitTests + "search/", "search-simulation-unit-tests", authRequired, nil, 50, s.searchUnitTests},
		{"POST", unitTests, "create-simulation-unit-test", authRequired, perms{a.SimulationCreateUnitTest}, 500, s.createUnitTest},
		{"GET", unitTests, "get-simulation-unit-tests", authRequired, nil, 200, s.getUnitTests},
		{"POST", unitTest, "update-simulation-unit-test", authRequired, perms{a.SimulationModifyUnitTest}, 500, s.updateUnitTest},
		{"DELETE", unitTest, "delete-simulation-unit-test", authRequired, perms{a.SimulationDeleteUnitTest}, 500, s.deleteUnitTest},
		{"GET", unitTestSets + "search/", "search-simulation-unit-test-sets", authRequired, nil, 50, s.searchUnitTestSets},
		{"POST", unitTestSets, "create-simulation-unit-test-set", authRequired, perms{a.SimulationCreateUnitTestSet}, 50, s.createUnitTestSet},
		{"GET", unitTestSets, "get-simulation-unit-test-sets", authRequired, nil, 50, s.getUnitTestSets},
		{"POST", unitTestSet, "update-simulation-unit-test-set", authRequired, perms{a.SimulationModifyUnitTestSet}, 50, s.updateUnitTestSet},
		{"DELETE", unitTestSet, "delete-simulation-unit-test-set", authRequired, perms{a.SimulationDeleteUnitTestSet}, 50, s.deleteUnitTestSet},

		// Webhook destinations. Their permissions depend on the organization
		// alone; the listings show nothing to a caller without the read
		// permission.
		{"POST", hooks, "create-webhook-destination", authRequired, perms{a.WebhookCreateDestination}, 20, s.createWebhookDestination},
		{"GET", hooks, "get_webhook_destinations", authRequired, nil, 20, s.getWebhookDestinations},
		{"POST", hook, "update-webhook-destination", authRequired, perms{a.WebhookUpdateDestination}, 20, s.updateWebhookDestination},
		{"DELETE", hook, "delete-webhook-destination", authRequired, perms{a.WebhookDeleteDestination}, 20, s.deleteWebhookDestination},
		{"POST", hook + "/rotate-secret", "rotate-webhook-destination-secret", authRequired, perms{a.WebhookUpdateDestination}, 20, s.rotateWebhookSecret},
		{"GET", hook + "/delivery", "get-webhook-deliveries", authRequired, nil, 5, s.getWebhookDeliveries},

		{"GET", org + "/admin/get_models/", "get-models", authRequired, perms{a.AdminGetModels}, 20, s.getModels},

		// Listing runs filters by Simulation:GetSimulationUnitTestSetRun and
		// redacts by what else the caller may read.
		{"POST", runs, "create-simulation-unit-test-set-run", authRequired, perms{a.SimulationCreateUnitTestSetRun}, 20, s.createSimulationRun},
		{"GET", runs, "get-simulation-unit-test-set-runs", authRequired, nil, 50, s.getSimulationRuns},
		{"GET", run + "artifacts/", "get-simulation-unit-test-set-run-artifacts", authRequired, perms{a.SimulationGetUnitTestSetRun, a.OrganizationGetStateMachine}, 100, s.getSimulationRunArtifacts},
		{"DELETE", run, "cancel-simulation-unit-test-set-run", authRequired, perms{a.SimulationCancelUnitTestSetRun}, 10, s.cancelSimulationRun},

		// Each prompt log needs what reading its conversation or simulation
		// run needs; the handler decides that per log, and a log the caller
		// may not read is an error entry of the zip, not a 403.
		{"GET", org + "/admin/get_prompt_logs/", "get-prompt-logs", authRequired, nil, 20, s.getPromptLogs},
		// Requires a role holding more than DefaultAdministratorRole, which
		// no permission names: the handler decides.
		{"POST", org + "/admin/sql_query", "submit-sql-query", authRequired, nil, 6, s.submitSQLQuery},

		// Compadre's control API, for tests: served only when it is on, to a
		// super administrator of any organization (see control.go).
		{"GET", ctl + "faults", "control-list-faults", authControl, nil, 0, s.listFaults},
		{"POST", ctl + "faults", "control-create-fault", authControl, nil, 0, s.createFault},
		{"DELETE", ctl + "faults", "control-clear-faults", authControl, nil, 0, s.clearFaults},
		{"DELETE", ctl + "faults/{fault_id}", "control-delete-fault", authControl, nil, 0, s.deleteFault},
		{"GET", ctl + "requests", "control-list-requests", authControl, nil, 0, s.listRequests},
		{"DELETE", ctl + "requests", "control-clear-requests", authControl, nil, 0, s.clearRequests},
		{"POST", ctl + "reset", "control-reset", authControl, nil, 0, s.controlReset},
		{"GET", ctl + "snapshots", "control-list-snapshots", authControl, nil, 0, s.controlListSnapshots},
		{"POST", ctl + "snapshots", "control-create-snapshot", authControl, nil, 0, s.controlCreateSnapshot},
		{"POST", ctl + "snapshots/{snapshot_name}/restore", "control-restore-snapshot", authControl, nil, 0, s.controlRestoreSnapshot},
		{"DELETE", ctl + "snapshots/{snapshot_name}", "control-delete-snapshot", authControl, nil, 0, s.controlDeleteSnapshot},
		{"GET", ctl + "clock", "control-get-clock", authControl, nil, 0, s.controlGetClock},
		{"POST", ctl + "clock/advance", "control-advance-clock", authControl, nil, 0, s.controlAdvanceClock},
	}
}
