package store

import (
	"fmt"
	"slices"
	"strings"
)

// The views submit-sql-query reads: an organization's data, named and
// shaped after the hosted API's published organization tables where those
// exist, in Compadre's own words where they do not. Each view is one row
// per stored record of one table (t), restricted to the organization
// ({org}), and shows no secret, hash, sealed value or key. README.md,
// "SQL over your organization's data", documents every column; a test
// holds the two together.

// The column types a query's answer names, as the hosted API's examples
// name them.
const (
	sqlString    = "STRING"
	sqlInteger   = "INTEGER"
	sqlFloat     = "FLOAT"
	sqlBoolean   = "BOOLEAN"
	sqlTimestamp = "TIMESTAMP"
	sqlJSON      = "JSON"
	sqlBinary    = "BINARY"
)

type sqlView struct {
	name string
	// from names t, the table the view has a row per record of, and any
	// table joined to it; where restricts t to the organization, written
	// {org}.
	from, where string
	cols        []sqlViewColumn
}

type sqlViewColumn struct {
	name, typ string
	// expr computes the column from t; a bare t.column or a scalar
	// subquery reading one column lets SQLite trace the answer's column
	// back to the stored one (see sqlTypes).
	expr string
}

func col(name, typ, expr string) sqlViewColumn {
	return sqlViewColumn{name: name, typ: typ, expr: expr}
}

// Columns many views share.
var (
	regionName = col("region_name", sqlString, "NULL")
	orgID      = col("org_id", sqlString, "t.org_id")
	createdAt  = col("created_at", sqlTimestamp, "t.created_at")
	updatedAt  = col("updated_at", sqlTimestamp, "t.updated_at")
	creator    = col("creator", sqlJSON, "json_object('org_id', t.creator_org_id, 'user_id', t.creator_user_id)")
	updatedBy  = col("updated_by", sqlJSON, "json_object('org_id', t.updated_by_org_id, 'user_id', t.updated_by_user_id)")
)

// byOrg is the usual restriction: t belongs to the organization.
const byOrg = "t.org_id = {org}"

// sqlViews are every view, in the order README.md documents them.
var sqlViews = []sqlView{
	{name: "conversations", from: "main.conversations t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("completed_post_processings", sqlJSON, "t.completed_post_processings"),
		createdAt,
		col("final_message", sqlString, "t.final_message"),
		col("finished_at", sqlTimestamp, "t.finished_at"),
		col("interactions", sqlJSON, `(SELECT json_group_array(json_object('id', i.id, 'created_at', i.created_at,
			'service_hierarchical_state_machine_version_info', json_array(i.state_machine_id, i.state_machine_version),
			'insights', json(i.insights)) ORDER BY i.seq) FROM main.interactions i WHERE i.conversation_id = t.id)`),
		col("is_finished", sqlBoolean, "t.is_finished"),
		col("num_messages", sqlInteger, "t.num_messages"),
		orgID,
		regionName,
		col("service_id", sqlString, "t.service_id"),
		col("simulation_unit_test_set_run_id", sqlString, "t.simulation_run_id"),
		col("tags", sqlJSON, "t.tags"),
		updatedAt,
		col("user_id", sqlString, "t.user_id"),
		col("version_set_info", sqlJSON, `json_object('name', t.version_set_name,
			'agent_version_info', json_array(t.agent_id, t.agent_version),
			'service_hierarchical_state_machine_version_info', json_array(t.state_machine_id, t.state_machine_version),
			'llm_model_preferences', json(t.llm_model_preferences))`),
		col("working_memories", sqlJSON, `(SELECT json_group_array(json(w.value) ORDER BY i.seq, w.key)
			FROM main.interactions i, json_each(i.insights, '$.working_memory') w WHERE i.conversation_id = t.id)`),
	}},
	// Messages are indexed by conversation, not organization: naming the
	// organization's conversations too lets SQLite read its messages
	// alone instead of every organization's.
	{name: "messages", from: "main.messages t",
		where: "t.org_id = {org} AND t.conversation_id IN (SELECT c.id FROM main.conversations c WHERE c.org_id = {org})",
		cols: []sqlViewColumn{
			col("_id", sqlString, "t.id"),
			col("content", sqlString, "t.message"),
			col("conversation_id", sqlString, "t.conversation_id"),
			createdAt,
			col("format", sqlString, "t.format"),
			col("has_source", sqlBoolean, "t.source_blob_id IS NOT NULL"),
			col("interaction_id", sqlString, "t.interaction_id"),
			col("message_metadata", sqlJSON, "NULL"),
			col("message_type", sqlString, "t.message_type"),
			orgID,
			regionName,
			col("sender", sqlString, "t.sender"),
			// A message never changes after it is written.
			col("updated_at", sqlTimestamp, "t.created_at"),
			col("user_id", sqlString, "(SELECT c.user_id FROM main.conversations c WHERE c.id = t.conversation_id)"),
		}},
	{name: "memories", from: "main.memories t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("content", sqlJSON, "json_object('reference', json(t.refs), 'content', t.content, 'context', t.context, 'importance_score', NULL)"),
		col("conversation_id", sqlString, "t.conversation_id"),
		createdAt,
		orgID,
		regionName,
		col("updated_at", sqlTimestamp, "t.created_at"),
		col("user_id", sqlString, "t.user_id"),
	}},
	{name: "users", from: "main.users t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("additional_context", sqlJSON, "t.additional_context"),
		createdAt,
		col("email", sqlString, "t.email"),
		col("first_name", sqlString, "t.first_name"),
		col("last_name", sqlString, "t.last_name"),
		orgID,
		col("preferences", sqlJSON, "t.preferences"),
		regionName,
		col("role", sqlString, "(SELECT r.name FROM main.roles r WHERE r.id = t.role_id)"),
		updatedAt,
		col("user_id", sqlString, "t.id"),
		col("user_models", sqlJSON, `(SELECT json_group_array(m.content ORDER BY m.created_at) FROM main.user_models m
			WHERE m.org_id = t.org_id AND m.user_id = t.id)`),
	}},
	{name: "roles", from: "main.roles t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		createdAt,
		col("description", sqlString, "t.description"),
		col("frontend_view", sqlString, "t.frontend_view"),
		col("is_builtin", sqlBoolean, "t.builtin"),
		col("name", sqlString, "t.name"),
		orgID,
		col("permission_grants", sqlJSON, "t.permission_grants"),
		updatedAt,
	}},
	{name: "services", from: "main.services t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("agent_id", sqlString, "t.agent_id"),
		createdAt,
		creator,
		col("description", sqlString, "t.description"),
		col("is_active", sqlBoolean, "t.is_active"),
		col("keyterms", sqlJSON, "t.keyterms"),
		col("name", sqlString, "t.name"),
		orgID,
		regionName,
		col("service_hierarchical_state_machine_id", sqlString, "t.state_machine_id"),
		col("tags", sqlJSON, "t.tags"),
		updatedAt,
		updatedBy,
	}},
	{name: "service_version_sets", from: "main.service_version_sets t JOIN main.services s ON s.id = t.service_id",
		where: "s.org_id = {org}", cols: []sqlViewColumn{
			col("agent_version_number", sqlInteger, "t.agent_version"),
			createdAt,
			col("llm_model_preferences", sqlJSON, "t.llm_model_preferences"),
			col("name", sqlString, "t.name"),
			col("org_id", sqlString, "s.org_id"),
			col("service_hierarchical_state_machine_version_number", sqlInteger, "t.state_machine_version"),
			col("service_id", sqlString, "t.service_id"),
			updatedAt,
		}},
	{name: "agents", from: "main.agent_versions t JOIN main.agents a ON a.id = t.agent_id", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.agent_id || ':' || t.version"),
		col("agent_id", sqlString, "t.agent_id"),
		col("background", sqlString, "json_extract(t.body, '$.background')"),
		col("behaviors", sqlJSON, "json_extract(t.body, '$.behaviors')"),
		col("communication_patterns", sqlJSON, "json_extract(t.body, '$.communication_patterns')"),
		createdAt,
		creator,
		col("deprecated", sqlBoolean, "a.deprecated"),
		col("identity", sqlJSON, "json_extract(t.body, '$.identity')"),
		col("initials", sqlString, "json_extract(t.body, '$.initials')"),
		col("name", sqlString, "a.name"),
		orgID,
		regionName,
		col("updated_at", sqlTimestamp, "t.created_at"),
		col("version", sqlInteger, "t.version"),
		col("voice_config", sqlJSON, "json_extract(t.body, '$.voice_config')"),
	}},
	{name: "service_hierarchical_state_machines",
		from: "main.state_machine_versions t JOIN main.state_machines m ON m.id = t.state_machine_id", where: byOrg,
		cols: []sqlViewColumn{
			col("_id", sqlString, "t.state_machine_id || ':' || t.version"),
			createdAt,
			creator,
			col("deprecated", sqlBoolean, "m.deprecated"),
			col("description", sqlString, "json_extract(t.body, '$.description')"),
			col("global_action_guidelines", sqlJSON, "json_extract(t.body, '$.global_action_guidelines')"),
			col("global_boundary_constraints", sqlJSON, "json_extract(t.body, '$.global_boundary_constraints')"),
			col("global_intra_state_navigation_guidelines", sqlJSON, "json_extract(t.body, '$.global_intra_state_navigation_guidelines')"),
			col("name", sqlString, "m.name"),
			col("new_user_initial_state", sqlString, "json_extract(t.body, '$.new_user_initial_state')"),
			orgID,
			col("references", sqlJSON, "json_extract(t.body, '$.references')"),
			regionName,
			col("returning_user_initial_state", sqlString, "json_extract(t.body, '$.returning_user_initial_state')"),
			col("service_hierarchical_state_machine_id", sqlString, "t.state_machine_id"),
			col("states", sqlJSON, "json_extract(t.body, '$.states')"),
			col("terminal_state", sqlString, "json_extract(t.body, '$.terminal_state')"),
			col("version", sqlInteger, "t.version"),
		}},
	{name: "dynamic_behavior_sets", from: "main.dynamic_behavior_sets t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("applied_to_services", sqlJSON, "t.applied_to_services"),
		createdAt,
		creator,
		col("is_active", sqlBoolean, "t.is_active"),
		col("name", sqlString, "t.name"),
		orgID,
		col("tags", sqlJSON, "t.tags"),
		updatedAt,
		updatedBy,
	}},
	{name: "dynamic_behavior_set_versions", from: "main.dynamic_behavior_set_versions t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("actions", sqlJSON, "json_extract(t.body, '$.actions')"),
		col("conversation_triggers", sqlJSON, "json_extract(t.body, '$.conversation_triggers')"),
		createdAt,
		creator,
		col("dynamic_behavior_set_id", sqlString, "t.set_id"),
		orgID,
		updatedAt,
		col("version", sqlInteger, "t.version"),
	}},
	{name: "tools", from: "main.tools t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		createdAt,
		creator,
		col("deprecated", sqlBoolean, "t.deprecated"),
		col("description", sqlString, "t.description"),
		// Names only: a variable's value, secret or not, is never shown.
		col("envvars", sqlJSON, `(SELECT json_group_array(e.name ORDER BY e.name) FROM main.tool_envvars e
			WHERE e.tool_id = t.id AND e.is_secret = 0 AND e.deleted_at IS NULL)`),
		col("name", sqlString, "t.name"),
		orgID,
		regionName,
		col("secret_envvars", sqlJSON, `(SELECT json_group_array(e.name ORDER BY e.name) FROM main.tool_envvars e
			WHERE e.tool_id = t.id AND e.is_secret = 1 AND e.deleted_at IS NULL)`),
		col("tags", sqlJSON, "t.tags"),
		updatedAt,
		updatedBy,
	}},
	{name: "tool_versions", from: "main.tool_versions t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("amigo_scaffold_commit_hash", sqlString, "t.scaffold_hash"),
		createdAt,
		creator,
		col("deprecated", sqlBoolean, "t.deprecated"),
		col("entrypoint", sqlString, "t.entrypoint"),
		col("input_schema", sqlJSON, "t.input_schema"),
		orgID,
		col("project_directory", sqlString, "t.project_directory"),
		regionName,
		col("required_envvars", sqlJSON, "t.required_envvars"),
		col("required_secret_envvars", sqlJSON, "t.required_secret_envvars"),
		col("tool_commit_hash", sqlString, "t.tool_commit_hash"),
		col("tool_id", sqlString, "t.tool_id"),
		col("tool_repo", sqlString, "t.tool_repo"),
		updatedAt,
		updatedBy,
		col("version", sqlString, "t.major || '.' || t.minor || '.' || t.patch"),
	}},
	{name: "tool_invocations", from: "main.tool_invocations t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("conversation_id", sqlString, "t.conversation_id"),
		createdAt,
		col("duration_ms", sqlInteger, "t.duration_ms"),
		col("exception_message", sqlString, "t.exception_message"),
		col("exception_stack_trace", sqlString, "t.exception_stack_trace"),
		col("exception_type", sqlString, "t.exception_type"),
		col("input_parameters", sqlJSON, "t.inputs"),
		col("interaction_id", sqlString, "t.interaction_id"),
		col("invocation_metadata", sqlJSON, "t.invocation_metadata"),
		col("invocation_source_type", sqlString, "t.source_type"),
		col("logs", sqlJSON, "t.logs"),
		orgID,
		col("output", sqlString, "t.output"),
		col("run_index", sqlInteger, "t.run_index"),
		col("simulation_unit_test_id", sqlString, "t.unit_test_id"),
		col("simulation_unit_test_set_run_id", sqlString, "t.simulation_run_id"),
		col("succeeded", sqlBoolean, "t.succeeded"),
		col("tool_id", sqlString, "t.tool_id"),
		col("tool_version_id", sqlString, "t.version_id"),
		col("user_id", sqlString, "t.user_id"),
		col("version", sqlString, "t.major || '.' || t.minor || '.' || t.patch"),
	}},
	{name: "metrics", from: "main.metrics t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("additional_notes", sqlString, "t.additional_notes"),
		col("applied_to_services", sqlJSON, "t.applied_to_services"),
		createdAt,
		creator,
		col("description", sqlString, latestMetricVersion("description")),
		col("is_deleted", sqlBoolean, "t.is_deleted"),
		col("latest_version", sqlInteger, latestMetricVersion("version")),
		col("metric_value", sqlJSON, latestMetricVersion("metric_value")),
		col("metric_value_type", sqlString, "t.value_type"),
		col("name", sqlString, "t.name"),
		orgID,
		regionName,
		col("tags", sqlJSON, "t.tags"),
		updatedAt,
		updatedBy,
	}},
	{name: "metric_versions", from: "main.metric_versions t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		createdAt,
		creator,
		col("description", sqlString, "t.description"),
		col("metric_id", sqlString, "t.metric_id"),
		col("metric_value", sqlJSON, "t.metric_value"),
		orgID,
		col("version", sqlInteger, "t.version"),
	}},
	{name: "metric_evaluation_results", from: "main.metric_evaluation_results t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("conversation_id", sqlString, "t.conversation_id"),
		createdAt,
		col("evaluate_to_interaction_id", sqlString, "t.evaluate_to_interaction_id"),
		col("invoked_by", sqlJSON, `CASE WHEN t.invoked_by_user_id IS NOT NULL
			THEN json_object('org_id', t.invoked_by_org_id, 'user_id', t.invoked_by_user_id) END`),
		col("justification", sqlString, "t.justification"),
		col("message_references", sqlJSON, "t.message_references"),
		col("metric_id", sqlString, "t.metric_id"),
		col("metric_version", sqlInteger, "t.metric_version"),
		orgID,
		regionName,
		col("result", sqlJSON, "t.result"),
		col("run_index", sqlInteger, "t.run_index"),
		col("simulation_unit_test_id", sqlString, "t.unit_test_id"),
		col("simulation_unit_test_set_run_id", sqlString, "t.simulation_run_id"),
		col("source", sqlString, "t.source_type"),
		updatedAt,
	}},
	{name: "simulation_personas", from: "main.simulation_personas t", where: byOrg, cols: simulationRecordColumns(
		col("latest_version", sqlInteger, latestVersion("simulation_persona_versions", "persona_id", "version")),
		col("latest_version_background", sqlString, latestVersion("simulation_persona_versions", "persona_id", "background")),
		col("name", sqlString, "t.name"),
		col("role", sqlString, "t.role"),
		col("tags", sqlJSON, "t.tags"),
	)},
	{name: "simulation_persona_versions", from: "main.simulation_persona_versions t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("background", sqlString, "t.background"),
		createdAt,
		col("creator_user_id", sqlString, "t.creator_user_id"),
		col("nonsensitive_user_variables", sqlJSON, "t.nonsensitive_user_variables"),
		orgID,
		col("preferred_language", sqlString, "t.preferred_language"),
		regionName,
		col("simulation_persona_id", sqlString, "t.persona_id"),
		col("timezone", sqlString, "t.timezone"),
		col("user_models", sqlJSON, "t.user_models"),
		col("version", sqlInteger, "t.version"),
	}},
	{name: "simulation_scenarios", from: "main.simulation_scenarios t", where: byOrg, cols: simulationRecordColumns(
		col("latest_version", sqlInteger, latestVersion("simulation_scenario_versions", "scenario_id", "version")),
		col("latest_version_objective", sqlString, latestVersion("simulation_scenario_versions", "scenario_id", "objective")),
		col("name", sqlString, "t.name"),
		col("tags", sqlJSON, "t.tags"),
	)},
	{name: "simulation_scenario_versions", from: "main.simulation_scenario_versions t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("conversation_starts_at", sqlTimestamp, "t.conversation_starts_at"),
		createdAt,
		col("creator_user_id", sqlString, "t.creator_user_id"),
		col("initial_message_type", sqlString, "t.initial_message_type"),
		col("instructions", sqlString, "t.instructions"),
		col("objective", sqlString, "t.objective"),
		orgID,
		regionName,
		col("simulation_scenario_id", sqlString, "t.scenario_id"),
		col("version", sqlInteger, "t.version"),
	}},
	{name: "simulation_unit_tests", from: "main.simulation_unit_tests t", where: byOrg, cols: simulationRecordColumns(
		col("description", sqlString, "t.description"),
		col("max_interactions", sqlInteger, "t.max_interactions"),
		col("name", sqlString, "t.name"),
		col("service_id", sqlString, "t.service_id"),
		col("service_version_set_name", sqlString, "t.service_version_set_name"),
		col("simulation_persona_id", sqlString, "t.persona_id"),
		col("simulation_scenario_id", sqlString, "t.scenario_id"),
		col("success_criterions", sqlJSON, "t.success_criterions"),
		col("tags", sqlJSON, "t.tags"),
	)},
	{name: "simulation_unit_test_sets", from: "main.simulation_unit_test_sets t", where: byOrg, cols: simulationRecordColumns(
		col("description", sqlString, "t.description"),
		col("last_triggered_run_id", sqlString, "t.last_triggered_run_id"),
		col("name", sqlString, "t.name"),
		col("tags", sqlJSON, "t.tags"),
		col("unit_test_runs", sqlJSON, "t.unit_test_runs"),
	)},
	{name: "simulation_unit_test_set_runs", from: "main.simulation_runs t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("artifacts_generated", sqlBoolean, "t.artifacts_generated"),
		col("cancelled", sqlBoolean, "t.cancelled"),
		col("completed_at", sqlTimestamp, "t.completed_at"),
		createdAt,
		col("creator_user_id", sqlString, "t.creator_user_id"),
		col("errored", sqlBoolean, "t.errored"),
		col("failed_metrics", sqlBoolean, "t.failed_metrics"),
		col("is_completed", sqlBoolean, "t.is_completed"),
		orgID,
		regionName,
		col("simulation_unit_test_set_id", sqlString, "t.unit_test_set_id"),
		col("unit_test_run_specs", sqlJSON, "t.specs"),
	}},
	{name: "simulation_unit_test_runs", from: "main.simulation_run_items t", where: byOrg, cols: []sqlViewColumn{
		col("attempts", sqlInteger, "t.attempts"),
		col("conversation_id", sqlString, "t.conversation_id"),
		col("criteria", sqlJSON, "t.criteria"),
		col("error", sqlString, "t.error"),
		col("finished_at", sqlTimestamp, "t.finished_at"),
		orgID,
		col("run_index", sqlInteger, "t.run_index"),
		col("simulation_unit_test_id", sqlString, "t.unit_test_id"),
		col("simulation_unit_test_set_run_id", sqlString, "t.run_id"),
		col("started_at", sqlTimestamp, "t.started_at"),
		col("status", sqlString, "t.status"),
	}},
	{name: "webhook_destinations", from: "main.webhook_destinations t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		col("accepted_types", sqlJSON, "t.accepted_types"),
		createdAt,
		col("dual_signing_stops_at", sqlTimestamp, "t.dual_signing_stops_at"),
		orgID,
		col("retry_attempts", sqlInteger, "t.retry_attempts"),
		col("secret_generated_at", sqlTimestamp, "t.secret_generated_at"),
		col("url", sqlString, "t.url"),
	}},
	{name: "webhook_deliveries", from: "main.webhook_deliveries t", where: byOrg, cols: []sqlViewColumn{
		col("_id", sqlString, "t.id"),
		createdAt,
		col("delivery_attempts", sqlJSON, "t.attempts"),
		col("dual_signed", sqlBoolean, "t.dual_signed"),
		col("next_attempt_at", sqlTimestamp, "t.next_attempt_at"),
		orgID,
		col("status", sqlString, "t.status"),
		col("type", sqlString, "t.type"),
		col("webhook_content", sqlJSON, "t.content"),
		col("webhook_destination_id", sqlString, "t.destination_id"),
	}},
}

// latestMetricVersion reads column of a metric's newest version.
func latestMetricVersion(column string) string {
	return latestVersion("metric_versions", "metric_id", column)
}

// latestVersion reads column of the newest row of table whose owner
// column names t.
func latestVersion(table, owner, column string) string {
	return fmt.Sprintf("(SELECT v.%s FROM main.%s v WHERE v.%s = t.id ORDER BY v.version DESC LIMIT 1)", column, table, owner)
}

// simulationRecordColumns are the columns of a simulation record (persona,
// scenario, unit test, unit test set) around its own ones, in name order.
// Deleting one marks it deleted and stamps it as an update, so the
// deletion's time and author are the last update's.
func simulationRecordColumns(own ...sqlViewColumn) []sqlViewColumn {
	cols := append([]sqlViewColumn{
		col("_id", sqlString, "t.id"),
		createdAt,
		col("creator_user_id", sqlString, "t.creator_user_id"),
		col("deleted_at", sqlTimestamp, "CASE WHEN t.is_deleted THEN t.updated_at END"),
		col("deleted_by_user_id", sqlString, "CASE WHEN t.is_deleted THEN t.updated_by_user_id END"),
		col("is_deleted", sqlBoolean, "t.is_deleted"),
		orgID,
		regionName,
		updatedAt,
		col("updated_by_user_id", sqlString, "t.updated_by_user_id"),
	}, own...)
	// By name ("_id" first), as the hosted tables list their columns.
	slices.SortFunc(cols, func(a, b sqlViewColumn) int { return strings.Compare(a.name, b.name) })
	return cols
}

// createSQL is the statement making v over the organization whose ID,
// quoted, is org.
func (v sqlView) createSQL(org string) string {
	names := make([]string, len(v.cols))
	exprs := make([]string, len(v.cols))
	for i, c := range v.cols {
		names[i] = `"` + c.name + `"`
		exprs[i] = c.expr
	}
	return fmt.Sprintf("CREATE TEMP VIEW %s(%s) AS SELECT %s FROM %s WHERE %s", v.name, strings.Join(names, ", "),
		strings.Join(exprs, ", "), v.from, strings.ReplaceAll(v.where, "{org}", org))
}

// shapeSQL is the statement making a stand-in for v: the same name and
// columns, reading nothing, so a query prepared over it resolves every
// name as it would over v while any table it reads is its own doing.
func (v sqlView) shapeSQL() string {
	names := make([]string, len(v.cols))
	nulls := make([]string, len(v.cols))
	for i, c := range v.cols {
		names[i] = `"` + c.name + `"`
		nulls[i] = "NULL"
	}
	return fmt.Sprintf("CREATE TEMP VIEW %s(%s) AS SELECT %s WHERE 0", v.name, strings.Join(names, ", "), strings.Join(nulls, ", "))
}
