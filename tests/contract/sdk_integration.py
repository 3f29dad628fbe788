"""Run the official Python SDK's own integration tests, unchanged (in
tests/sdk-integration/python/), against a fresh server started with its
default flags, as a user of the SDK would run it, and hold which
operations they reached to tests/conformance/sdk-tests.json (see
harness.settle_evidence).

Usage: python tests/contract/sdk_integration.py --binary bin/compadre
"""

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from harness import SDK_CLIENT, create_service, reached, request_counts, settle_evidence, sign_in, start, stop

SUITE_DIR = Path(__file__).resolve().parents[1] / "sdk-integration" / "python"

# The SDK's integration test files, and whether this run includes each.
SDK_SUITES = {
    "test_organization_integration.py": True,
    "test_user_integration.py": True,
    "test_conversation_integration.py": True,
}

ABOUT = ("The reference's operations the official Python SDK's own integration tests sent a request to through the "
         "SDK's client during make sdk (reached; by the server's count of python-httpx requests), and those answered "
         "at least once below 400 (succeeded). Written by COMPADRE_EVIDENCE=update make sdk; a run without it fails "
         "when it differs.")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    args = ap.parse_args()
    enabled = [f"tests/integration/{name}" for name, on in SDK_SUITES.items() if on]
    for name, on in SDK_SUITES.items():
        if not on:
            print(f"sdk-integration: {name} is not run yet (see SDK_SUITES)")
    with tempfile.TemporaryDirectory(prefix="compadre-sdk-") as tmp:
        work = Path(tmp)
        # Default flags: the point is that the SDK works against the server
        # as it starts. These tests run no tool, so the API answering is
        # enough; the sandbox goes on starting in the background.
        proc, creds = start(args.binary, work / "data", probe="/healthz")
        stale = False
        try:
            service_id = create_service(creds, sign_in(creds), uuid.uuid4().hex[:6])
            report = work / "junit.xml"
            env = {**os.environ,
                   "AMIGO_BASE_URL": creds["base_url"], "AMIGO_ORGANIZATION_ID": creds["organization"],
                   "AMIGO_API_KEY": creds["api_key"], "AMIGO_API_KEY_ID": creds["api_key_id"],
                   "AMIGO_USER_ID": creds["user_id"], "AMIGO_TEST_SERVICE_ID": service_id}
            cmd = [sys.executable, "-m", "pytest", "-m", "integration", "-p", "no:cacheprovider",
                   "--junitxml", str(report), *enabled]
            print("$", " ".join(cmd[2:]), flush=True)
            code = subprocess.call(cmd, cwd=SUITE_DIR, env=env, stdin=subprocess.DEVNULL)
            # Only with every file run and passing does the evidence say
            # what the suite reaches.
            if code == 0 and all(SDK_SUITES.values()):
                stale = not settle_evidence("sdk-tests.json", ABOUT,
                                            *reached(creds, request_counts(creds), client=SDK_CLIENT))
        finally:
            stop(proc)
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        if report.exists():
            for suite in ET.parse(report).getroot().iter("testsuite"):
                for k in counts:
                    counts[k] += int(suite.get(k, 0))
        failed = counts["failures"] + counts["errors"]
        passed = counts["tests"] - failed - counts["skipped"]
        if code != 0 or failed:
            print((work / "server.log").read_text()[-5000:])
    print(f"sdk-integration: {passed} passed, {failed} failed, {counts['skipped']} skipped")
    # pytest's own status too: it fails a run that collected nothing.
    return 1 if code != 0 or failed or passed == 0 or stale else 0


if __name__ == "__main__":
    sys.exit(main())
