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
from pathlib import Path

from harness import SDK_CLIENT, reached, request_counts, settle_evidence, sign_in, start, stop

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


def schemathesis(creds: dict, token: str, work: Path, *operation_filter: str) -> int:
    config = work / "schemathesis.toml"
    # positive_data_acceptance also takes 400: the API answers 400 for
    # business rules no schema can state (a state machine's initial state
    # must be one of its states, a logo must be a PNG of a given shape, a
    # pinned version must exist). 422 stays a failure: whatever the server
    # refuses as malformed, the document must refuse too.
    config.write_text(
        f'[parameters]\norganization = "{creds["organization"]}"\n'
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
           "--seed", "1", "--no-color", *operation_filter]
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
                # others. Only schemathesis calls the server meanwhile.
                before = request_counts(creds)
                fuzz_failed = schemathesis(creds, token, work, "--exclude-operation-id", "delete-organization") != 0
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
