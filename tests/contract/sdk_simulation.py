"""A simulation end to end: the agent, context graph and service through the
official Python SDK; personas, scenarios, metrics, unit tests, a set and its
runs over plain HTTP (the SDK has no resource for these groups), with every
request body built by the SDK's generated request models and every answer
read by its generated response models, so the shapes are the SDK's.

The service's context graph calls a published tool that answers differently
in conversation-simulation mode. Two personas and two scenarios, a boolean
and a numerical metric, three unit tests in a set each run twice: one unit
test fails a criterion on purpose. The run's artifacts are downloaded and
checked, the tool's invocations are listed by the run's ID, and a second
run is cancelled mid-way.

The server runs the default `builtin` model (DECISIONS.md, "What does the
built-in simulated user say?" and "How does the built-in judge decide?").

Environment: COMPADRE_CREDENTIALS (credentials.json's content) and
COMPADRE_TOOLS_REPO (the server's tools repository).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from amigo_sdk import AmigoClient
from amigo_sdk.generated.model import (
    MetricCreateMetricRequest,
    MetricCreateMetricResponse,
    MetricGetMetricEvaluationResultsResponse,
    OrganizationCreateAgentRequest,
    OrganizationCreateAgentVersionRequest,
    OrganizationCreateServiceHierarchicalStateMachineRequest,
    OrganizationCreateServiceHierarchicalStateMachineVersionRequest,
    ServiceCreateServiceRequest,
    SimulationCreateSimulationPersonaResponse,
    SimulationCreateSimulationScenarioResponse,
    SimulationCreateSimulationUnitTestRequest,
    SimulationCreateSimulationUnitTestResponse,
    SimulationCreateSimulationUnitTestSetRequest,
    SimulationCreateSimulationUnitTestSetResponse,
    SimulationCreateSimulationUnitTestSetRunRequest,
    SimulationCreateSimulationUnitTestSetRunResponse,
    SimulationGetSimulationUnitTestSetRunArtifactsResponse,
    SimulationGetSimulationUnitTestSetRunsResponse,
)

from harness import AGENT_VERSION, Checks, action_state, call, sign_in

creds = json.loads(os.environ["COMPADRE_CREDENTIALS"])
tools_repo = os.environ["COMPADRE_TOOLS_REPO"]
client = AmigoClient(api_key=creds["api_key"], api_key_id=creds["api_key_id"], user_id=creds["user_id"],
                     organization_id=creds["organization"], base_url=creds["base_url"])
token = sign_in(creds)
suffix = uuid.uuid4().hex[:6]
check = Checks("sdk simulation")


def send(method: str, path: str, request=None, response=None):
    """One call with a body from an SDK request model (or a dict, where the
    SDK's model cannot be built), its answer read by an SDK response model."""
    body = request if request is None or isinstance(request, dict) else request.model_dump(mode="json", exclude_unset=True)
    out = call(creds, token, method, path, body)
    return out if response is None else response.model_validate(out)


def status_of(method: str, path: str, body: dict | None = None) -> int:
    try:
        call(creds, token, method, path, body)
        return 200
    except urllib.error.HTTPError as e:
        return e.code


# The tool: its balance is made up in a simulated conversation.
TOOL = f"balance_{suffix}"
with tempfile.TemporaryDirectory(prefix="compadre-tool-") as tmp:
    project = Path(tmp) / TOOL
    (project / "balance").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "balance"\nversion = "0.1.0"\nrequires-python = ">=3.14"\n\n'
        '[tool.ruff]\ntarget-version = "py314"\n\n[tool.amigo]\nentrypoint = "balance.main:balance"\n')
    (project / "balance" / "__init__.py").write_text("")
    (project / "balance" / "main.py").write_text(
        'def balance(account: str = "", invocation_mode: str = "") -> str:\n'
        '    """The balance of an account."""\n'
        '    if invocation_mode == "conversation-simulation":\n'
        '        return "SIMULATED balance 100"\n'
        '    return "REAL balance from the bank"\n')
    git = ["git", "-C", tmp, "-c", "user.name=Contract", "-c", "user.email=contract@example.com"]
    branch = f"releases/{creds['organization']}"
    subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
    if subprocess.run(git + ["fetch", "-q", tools_repo, branch], stderr=subprocess.DEVNULL).returncode == 0:
        subprocess.run(git + ["reset", "-q", "FETCH_HEAD"], check=True)
    for args in (["add", TOOL], ["commit", "-q", "-m", TOOL], ["push", "-q", tools_repo, f"HEAD:{branch}"]):
        subprocess.run(git + args, check=True)
tool_id = call(creds, token, "POST", "/tool/", {"name": TOOL, "description": "Account balance", "tags": {}})["id"]
published = call(creds, token, "POST", f"/tool/{tool_id}/version",
                 {"repo": "team", "project_path": TOOL, "bump_type": "major"})
check(published["new_version"] == "1.0.0", f"published {published}")

# The context graph: start offers the tool when the user asks for their
# "balance", and ends when they say goodbye.
start = action_state("start", {"description": "The user says goodbye", "next_state": "end"})
start["action_tool_call_specs"] = [{
    "tool_id": tool_id, "version_constraint": ">=1.0.0", "additional_instruction": "Check the balance.",
    "audio_fillers": [], "audio_filler_triggered_after": 2, "result_persistence": "persisted-preferred"}]
GRAPH = {
    "description": "Answers balance questions.", "states": [start, action_state("end")],
    "new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
    "references": {}, "global_intra_state_navigation_guidelines": [], "global_action_guidelines": [],
    "global_boundary_constraints": [],
}
agent = client.agents.create(OrganizationCreateAgentRequest(agent_name=f"Banker {suffix}"))
client.agents.create_agent_version(agent.id, OrganizationCreateAgentVersionRequest.model_validate(AGENT_VERSION))
graph = client.context_graphs.create_context_graph(
    OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name=f"banker {suffix}"))
client.context_graphs.create_context_graph_version(
    graph.id, OrganizationCreateServiceHierarchicalStateMachineVersionRequest.model_validate(GRAPH))
service = client.services.create_service(ServiceCreateServiceRequest.model_validate({
    "name": f"Banker {suffix}", "description": "Balances", "is_active": True, "agent_id": agent.id,
    "service_hierarchical_state_machine_id": graph.id, "keyterms": [], "tags": {},
    "release_version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                            "llm_model_preferences": {}}}))


# The SDK's persona and scenario request models type their map keys (tags,
# variable names) as constrained strings pydantic cannot hash, so building
# one with any key fails inside the SDK ("unhashable type"); those bodies
# are sent as dicts.
def persona(name: str, role: str) -> str:
    req = {
        "name": f"{name} {suffix}", "role": role, "tags": {"suite": "contract"},
        "initial_version": {"background": f"{name} banks with us.", "user_models": [f"{name} is busy"],
                            "nonsensitive_user_variables": {"plan": "gold"}, "sensitive_user_variables": {}}}
    return send("POST", "/simulation/persona/", req, SimulationCreateSimulationPersonaResponse).simulation_persona_id


def scenario(name: str, instructions: str) -> str:
    req = {
        "name": f"{name} {suffix}", "tags": {},
        "initial_version": {"objective": "Learn the balance", "instructions": instructions,
                            "initial_message_type": "user-message", "conversation_starts_at": None}}
    return send("POST", "/simulation/scenario/", req, SimulationCreateSimulationScenarioResponse).simulation_scenario_id


def metric(name: str, description: str, value: dict) -> str:
    req = MetricCreateMetricRequest.model_validate({
        "name": f"{name} {suffix}", "applied_to_services": [], "additional_notes": None, "tags": {},
        "initial_version_metric_value": {"description": description, "metric_value": value}})
    return send("POST", "/metric/", req, MetricCreateMetricResponse).id


ana, bo = persona("Ana", "customer"), persona("Bo", "auditor")
# The built-in simulated user says one line a turn.
asks = scenario("asks balance", "What is my balance?\nThanks, goodbye")
asks_twice = scenario("asks twice", "Balance please\nThe balance again\ngoodbye")
said_goodbye = metric("said goodbye", 'Did the user say "goodbye"?', {"type": "boolean"})
asked_balance = metric("balance asked", 'Ten when the user asked about the "balance".',
                       {"type": "numerical", "lower_bound": 0, "upper_bound": 10})


def unit_test(name: str, persona_id: str, scenario_id: str, goodbye: bool) -> str:
    req = SimulationCreateSimulationUnitTestRequest.model_validate({
        "name": f"{name} {suffix}", "description": f"Unit test {name}", "service_id": service.id,
        "service_version_set_name": "release", "persona_id": persona_id, "scenario_id": scenario_id,
        "max_interactions": 5, "tags": {},
        "success_criterions": [
            {"name": "goodbye", "metric_id": said_goodbye, "criterion": {"type": "boolean", "expected_value": goodbye}},
            {"name": "balance", "metric_id": asked_balance,
             "criterion": {"type": "numerical", "verb": ">=", "threshold": 5}}]})
    return send("POST", "/simulation/unit_test/", req, SimulationCreateSimulationUnitTestResponse).simulation_unit_test_id


passing = [unit_test("ana asks", ana, asks, True), unit_test("bo asks twice", bo, asks_twice, True)]
failing = unit_test("fails on purpose", ana, asks_twice, False)
set_id = send("POST", "/simulation/unit_test_set/", SimulationCreateSimulationUnitTestSetRequest.model_validate({
    "name": f"nightly {suffix}", "description": "Every unit test twice",
    "unit_test_runs": [{"unit_test_id": u, "run_count": 2} for u in passing + [failing]], "tags": {}}),
    SimulationCreateSimulationUnitTestSetResponse).simulation_unit_test_set_id


def start_run() -> str:
    return send("POST", "/simulation/unit_test_set_run/",
                SimulationCreateSimulationUnitTestSetRunRequest(simulation_unit_test_set_id=set_id),
                SimulationCreateSimulationUnitTestSetRunResponse).simulation_unit_test_set_run_id


def get_run(run_id: str):
    page = send("GET", f"/simulation/unit_test_set_run/?id={run_id}", None,
                SimulationGetSimulationUnitTestSetRunsResponse)
    check(len(page.simulation_unit_test_set_runs) == 1, f"run {run_id} listed {len(page.simulation_unit_test_set_runs)}")
    return page.simulation_unit_test_set_runs[0]


def await_run(run_id: str):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = get_run(run_id)
        if run.is_completed:
            return run
        time.sleep(0.05)
    sys.exit(f"sdk simulation: FAILED: run {run_id} did not complete")


began = time.monotonic()
run_id = start_run()
run = await_run(run_id)
wall = time.monotonic() - began
check(run.failed_metrics and not run.errored and run.artifacts_generated, f"run flags {run.model_dump_json()}")
results = {r.unit_test_id: r for r in run.unit_test_run_results if r is not None}
for u in passing + [failing]:
    check(results[u].run_errors == [None, None], f"{u} errors {results[u].run_errors}")
    passed = {m.metric_id: [p.root[1] for p in m.results] for m in results[u].metric_evaluation_results}
    check(passed[asked_balance] == [True, True], f"{u} balance results {passed}")
    check(passed[said_goodbye] == ([False, False] if u == failing else [True, True]), f"{u} goodbye results {passed}")

# The artifacts, by the signed link alone.
art = send("GET", f"/simulation/unit_test_set_run/{run_id}/artifacts/", None,
           SimulationGetSimulationUnitTestSetRunArtifactsResponse)
with urllib.request.urlopen(art.presigned_url, timeout=30) as r:
    doc = json.load(r)
check(doc["format"] == "compadre.simulation-artifacts.v1" and doc["simulation_unit_test_set_run_id"] == run_id,
      f"artifacts head {str(doc)[:200]}")
check([u["unit_test_id"] for u in doc["unit_tests"]] == passing + [failing], "artifacts unit tests")
for u in doc["unit_tests"]:
    check(len(u["runs"]) == 2, f"{u['unit_test_id']} runs {len(u['runs'])}")
    for r in u["runs"]:
        said = [m["message"] for m in r["transcript"]]
        check(any("goodbye" in m for m in said), f"transcript {said}")
        check(r["tool_calls"] and all(c["output"] == "SIMULATED balance 100" for c in r["tool_calls"]),
              f"tool calls {r['tool_calls']}")
        check(all(m["justification"] for m in r["metric_results"]) and len(r["metric_results"]) == 2,
              f"metric results {r['metric_results']}")

# The tool's invocations, by the run's ID: every one saw the simulation.
invocations = call(creds, token, "GET", f"/tool/invocation?simulation_unit_test_set_run_id={run_id}")["tool_invocations"]
check(len(invocations) == sum(len(r["tool_calls"]) for u in doc["unit_tests"] for r in u["runs"]),
      f"{len(invocations)} invocations")
check(all(i["invocation_source"]["type"] == "simulation-conversation" and
          i["invocation_status"]["output"] == "SIMULATED balance 100" for i in invocations), "invocation sources")
results_page = send("GET", f"/metric/metric_evaluation_result?simulation_unit_test_set_run_id={run_id}", None,
                    MetricGetMetricEvaluationResultsResponse)
check(len(results_page.metric_evaluation_results) == 12, f"{len(results_page.metric_evaluation_results)} results")

# A second run, of a set long enough (60 conversations) to be cancelled
# mid-way: while it runs the set cannot be run again, and the cancel stops it.
long_set = send("POST", "/simulation/unit_test_set/", SimulationCreateSimulationUnitTestSetRequest.model_validate({
    "name": f"soak {suffix}", "description": None,
    "unit_test_runs": [{"unit_test_id": u, "run_count": 20} for u in passing + [failing]], "tags": {}}),
    SimulationCreateSimulationUnitTestSetResponse).simulation_unit_test_set_id
second = send("POST", "/simulation/unit_test_set_run/",
              SimulationCreateSimulationUnitTestSetRunRequest(simulation_unit_test_set_id=long_set),
              SimulationCreateSimulationUnitTestSetRunResponse).simulation_unit_test_set_run_id
check(status_of("POST", "/simulation/unit_test_set_run/", {"simulation_unit_test_set_id": long_set}) == 409,
      "a second unfinished run of the set")
check(status_of("DELETE", f"/simulation/unit_test_set_run/{second}/") == 200, "cancel mid-way")
cancelled = await_run(second)
errors = [e for r in cancelled.unit_test_run_results if r for e in r.run_errors]
check(cancelled.errored and cancelled.artifacts_generated, f"cancelled run {cancelled.model_dump_json()[:300]}")
check(len(errors) == 60 and any(e and "cancelled" in e for e in errors), f"cancelled run errors {errors}")
check(status_of("DELETE", f"/simulation/unit_test_set_run/{second}/") == 409, "cancel a cancelled run")

print(f"sdk simulation: {check.passed} checks passed; the run of 6 simulated conversations took {wall:.2f} s")
