"""Contract tests: start a fresh server and check it against its own OpenAPI
document (schemathesis) and the official Python SDK (sdk_smoke.py, and
sdk_engine.py's conversation end to end, sdk_simulation.py's simulation run,
sdk_webhooks.py's deliveries verified by the SDK, and webhook_chaos.py's
1,000 deliveries through a failing receiver and a killed server). A full
run also holds which operations the SDK and the fuzzer reached to
tests/conformance/ (see harness.settle_evidence).

Usage: python tests/contract/run.py --binary bin/compadre
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
from pathlib import Path

from harness import SDK_CLIENT, call, reached, request_counts, settle_evidence, sign_in, start, stop

HERE = Path(__file__).resolve().parent

# Every check schemathesis has: a response is wrong if it is a 5xx, does not
# match the document, or shows the server accepting what the document
# forbids (or refusing what it allows).
CHECKS = "all"
ACCEPTED = '["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]'

SDK_SCRIPTS_ABOUT = ("The reference's operations the official Python SDK's client sent a request to during "
                     "make contract's SDK scripts (reached; by the server's count of python-httpx requests), and "
                     "those answered at least once below 400 (succeeded). Written by COMPADRE_EVIDENCE=update make "
                     "contract; a run without it fails when it differs.")
FUZZER_ABOUT = ("The reference's operations schemathesis sent at least one request to during make contract's fuzzing "
                "phases (by the server's request counter, whatever the answer). Written by COMPADRE_EVIDENCE=update "
                "make contract; a run without it fails when it differs.")


def known_ids(creds: dict, token: str) -> dict[str, str]:
    """Path parameters naming records the SDK scripts made, for the fuzzer:
    with them its requests reach the handlers' own logic instead of stopping
    at a 404 for an ID it made up. Users are the administrator's own for
    reading (memories, user model) and another user for changing, so the
    fuzzer cannot delete the user it signs in as."""
    found: dict[str, str] = {}
    # The SDK scripts make no other user and no dynamic behavior set.
    for path, body in (
            ("/user/", {"first_name": "Fuzz", "last_name": "Target", "email": "fuzz-target@example.com",
                        "role_name": "DefaultUserRole"}),
            ("/dynamic_behavior_set/", {"name": "fuzzed", "tags": {}, "applied_to_services": [], "initial_version": {
                "is_active": True, "conversation_triggers": ["refund"],
                "actions": [{"type": "inject-instruction", "instruction": "Explain the refund policy.",
                             "overrides_instructions": False}]}})):
        try:
            call(creds, token, "POST", path, body)
        except urllib.error.HTTPError as e:
            print(f"known ids: POST {path}: {e.code} {e.read()[:200]!r}", flush=True)

    def first(path: str, key: str, field: str = "id", skip: str | None = None) -> dict | None:
        try:
            body = call(creds, token, "GET", path) or {}
        except urllib.error.HTTPError as e:
            print(f"known ids: GET {path}: {e.code}", flush=True)
            return None
        for item in body.get(key, []):
            if item.get(field) and item.get(field) != skip and not item.get("deprecated"):
                return item
        return None

    def put(name: str, item: dict | None, field: str = "id") -> None:
        if item and item.get(field):
            found[f"path.{name}"] = str(item[field])

    tool = first("/tool/", "tools")
    put("tool_id", tool)
    if tool:
        version = first(f"/tool/{tool['id']}/version?sort_by=-created_at", "tool_versions", "version")
        put("version", version, "version")
        put("versions", version, "version")
    put("agent_id", first("/organization/agent", "agents"))
    put("service_hierarchical_state_machine_id",
        first("/organization/service_hierarchical_state_machine", "service_hierarchical_state_machines"))
    service = first("/service/", "services")
    put("service_id", service)
    if service and service.get("version_sets"):
        found["path.version_set_name"] = sorted(service["version_sets"])[0]
    conversation = first("/conversation/", "conversations")
    put("conversation_id", conversation)
    if conversation:
        message = first(f"/conversation/{conversation['id']}/messages/", "messages")
        put("message_id", message)
        put("interaction_id", message, "interaction_id")
    put("dynamic_behavior_set_id", first("/dynamic_behavior_set/", "dynamic_behavior_sets"))
    put("metric_id", first("/metric/", "metrics"))
    found["path.user_id"] = creds["user_id"]
    put("requested_user_id", first("/user/", "users", "user_id", skip=creds["user_id"]), "user_id")
    put("simulation_persona_id", first("/simulation/persona/", "simulation_personas"))
    put("simulation_scenario_id", first("/simulation/scenario/", "simulation_scenarios"))
    put("simulation_unit_test_id", first("/simulation/unit_test/", "simulation_unit_tests"))
    put("simulation_unit_test_set_id", first("/simulation/unit_test_set/", "simulation_unit_test_sets"))
    put("simulation_unit_test_set_run_id", first("/simulation/unit_test_set_run/", "simulation_unit_test_set_runs"))
    put("webhook_destination_id", first("/webhook_destination/", "webhook_destinations"))
    print("known ids for the fuzzer:", ", ".join(sorted(k[5:] for k in found)), flush=True)
    return found


def schemathesis(creds: dict, token: str, work: Path, *operation_filter: str, ids: dict[str, str] | None = None) -> int:
    config = work / "schemathesis.toml"
    ids = ids or {}
    known = "".join(f'"{k}" = "{v}"\n' for k, v in sorted(ids.items()))
    # positive_data_acceptance also takes 400: the API answers 400 for
    # business rules no schema can state (a state machine's initial state
    # must be one of its states, a logo must be a PNG of a given shape, a
    # pinned version must exist). 422 stays a failure: whatever the server
    # refuses as malformed, the document must refuse too.
    config.write_text(
        f'[parameters]\norganization = "{creds["organization"]}"\n{known}'
        f'[headers]\nAuthorization = "Bearer {token}"\n'
        '[checks.positive_data_acceptance]\n'
        f'expected-statuses = {ACCEPTED}\n'
        # A body over 1 MiB is refused before it is read, with 413.
        '[checks.negative_data_rejection]\n'
        'expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]\n'
        # These operations answer 422 for rules that tie one field to
        # another, which no schema keyword states: a key's lifetime (1 to
        # 90 days) and a grant's (1 minute to 72 hours) bound an ISO 8601
        # duration string; the condition keys a grant may use depend on
        # the permission it names; a state machine version's initial and
        # terminal states and transitions must name its own states;
        # versions and version_constraint must be equal when both are given;
        # a dynamic behavior's change-tool-candidates action takes
        # tool_call_specs or its other name tool_specs, exactly one, whose
        # version constraints must be PEP 440 specifier sets and whose audio
        # fillers must be the SSML subset a filler may use, and its tag keys
        # must stay distinct once trimmed (elsewhere that is a 400), as must
        # a metric's; a metric's upper bound must be at least its lower
        # bound and its categories distinct once trimmed; a
        # version range's lower bound must be at most its upper bound; an
        # interaction's external event texts and timestamps must pair up,
        # and its request_audio_config, JSON in a query string, must be
        # one of the two audio configurations.
        '[[operations]]\n'
        'include-operation-id = ["create-api-key", "create-temporary-permission-grant", "create-role", "modify-role",'
        ' "create-service-hierarchical-state-machine-version", "get-tool-versions", "create-dynamic-behavior-set",'
        ' "create-dynamic-behavior-set-version", "update-dynamic-behavior-set", "get-agent-versions",'
        ' "get-service-hierarchical-state-machine-versions", "get-dynamic-behavior-set-versions",'
        ' "interact-with-conversation", "create-metric", "create-metric-version", "update-metric",'
        ' "get-metric-versions"]\n'
        '[operations.checks.positive_data_acceptance]\n'
        f'expected-statuses = {ACCEPTED[:-1]}, "422"]\n')
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
           creds["base_url"] + "/v1/openapi.json", "--url", creds["base_url"],
           "--checks", CHECKS, "--max-examples", os.environ.get("CONTRACT_MAX_EXAMPLES", "40"),
           "--seed", "1", "--no-color",
           # No example database: a run replays nothing an earlier one
           # stored, so a run here is the run a clean clone makes.
           "--generation-database", "none",
           # interact-with-conversation's request_audio_config is JSON in a
           # query string: drafts of its content schema longer than the
           # 1,024-character cap are discarded, and whether hypothesis
           # discards "too many" turns on the seed's draws, which any change
           # to the document or to the parameters given shifts. The check is
           # of the generator, not of the server.
           "--suppress-health-check", "filter_too_much", *operation_filter]
    print("$", " ".join(cmd[3:]), flush=True)
    return subprocess.call(cmd, stdin=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="compadre-contract-") as tmp:
        work = Path(tmp)
        proc, creds = start(args.binary, work / "data", "--rate-limits", "off", "--webhook-loopback", "on")
        try:
            token = sign_in(creds)
            # The SDK runs first, while the administrator is as first start
            # made it: the fuzzer may legitimately reassign its role. The
            # engine run publishes a tool, so it pushes to the server's tools
            # repository; /readyz (above) has the sandbox running for it.
            env = {**os.environ, "COMPADRE_CREDENTIALS": json.dumps(creds),
                   "COMPADRE_TOOLS_REPO": str(work / "data" / "tools.git")}
            # CONTRACT_OPERATIONS="op-a,op-b" fuzzes only those operations,
            # for work on a few of them; make test always runs everything.
            only = [op for op in os.environ.get("CONTRACT_OPERATIONS", "").split(",") if op]
            if only:
                flags = [f for op in only for f in ("--include-operation-id", op)]
                failures += schemathesis(creds, token, work, *flags) != 0
            else:
                sdk_failed = 0
                for script in ("sdk_smoke.py", "sdk_engine.py", "sdk_simulation.py", "sdk_webhooks.py"):
                    sdk_failed += subprocess.call([sys.executable, str(HERE / script)],
                                                  stdin=subprocess.DEVNULL, env=env) != 0
                failures += sdk_failed
                # What a script that stopped half way reached proves nothing.
                if not sdk_failed:
                    failures += not settle_evidence(
                        "sdk-scripts.json", SDK_SCRIPTS_ABOUT, *reached(creds, request_counts(creds), client=SDK_CLIENT))
                # Its own server, which it kills and starts again.
                failures += subprocess.call([sys.executable, str(HERE / "webhook_chaos.py"), "--binary", args.binary],
                                            stdin=subprocess.DEVNULL) != 0
                # Every operation but the one that deletes the organization,
                # then that one, so it cannot pull the ground from under the
                # others. The IDs are read first: from the count on, only
                # schemathesis calls the server.
                ids = known_ids(creds, token)
                before = request_counts(creds)
                fuzz_failed = schemathesis(creds, token, work, "--exclude-operation-id", "delete-organization",
                                           ids=ids) != 0
                # Alone, it has no links to follow: no stateful phase.
                fuzz_failed += schemathesis(creds, token, work, "--include-operation-id", "delete-organization",
                                            "--phases", "examples,coverage,fuzzing") != 0
                failures += fuzz_failed
                if not fuzz_failed:
                    # Which requests get a 2xx depends on what the fuzzer
                    # happened to create before, so only reaching is kept.
                    seen, _ = reached(creds, request_counts(creds), since=before)
                    failures += not settle_evidence("fuzzer.json", FUZZER_ABOUT, seen, None)
        finally:
            stop(proc)
            if failures:
                print((work / "server.log").read_text()[-5000:])
    print(f"contract: {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
