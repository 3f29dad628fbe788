"""What the contract runs share: a fresh server started on a data directory
of its own, its first-start credentials, plain HTTP calls to it, the
agent, context graph and service bodies the SDK runs build on, and the
evidence of which operations a run reached (tests/conformance/, which
CONFORMANCE.md is made from)."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVIDENCE_DIR = REPO / "tests" / "conformance"

# The User-Agent kind the server counts the official Python SDK's requests
# under (compadre_http_requests_total's client label): the SDK keeps its
# HTTP library's own User-Agent, which nothing else in these runs uses
# (call() below goes through urllib, schemathesis sends its own).
SDK_CLIENT = "python-httpx"


def start(binary: str, data: Path, *flags: str, probe: str = "/readyz") -> tuple[subprocess.Popen, dict]:
    """Start `compadre serve` on data with flags, and return it with the
    credentials its first start wrote once probe answers 200."""
    log = open(data.parent / "server.log", "w")
    proc = subprocess.Popen(
        [binary, "serve", "--addr", "127.0.0.1:0", "--data", str(data), "--log-level", "warn", *flags],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    # /readyz answers 200 only once the sandbox runs, which on a fresh data
    # directory means compiling the interpreter: minutes on a slow machine.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}; see {log.name}")
        try:
            creds = json.loads((data / "credentials.json").read_text())
            with urllib.request.urlopen(creds["base_url"] + probe, timeout=2) as r:
                if r.status == 200:
                    return proc, creds
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    proc.kill()
    sys.exit("server did not become ready")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


class Checks:
    """Counts the checks a script passes and ends it at the first that
    fails, naming the script."""

    def __init__(self, script: str):
        self.script, self.passed = script, 0

    def __call__(self, cond: bool, what: str) -> None:
        if not cond:
            sys.exit(f"{self.script}: FAILED: {what}")
        self.passed += 1


def sign_in(creds: dict) -> str:
    req = urllib.request.Request(
        f"{creds['base_url']}/v1/{creds['organization']}/user/signin_with_api_key",
        method="POST",
        headers={"x-api-key": creds["api_key"], "x-api-key-id": creds["api_key_id"],
                 "x-user-id": creds["user_id"]})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["id_token"]


def call(creds: dict, token: str, method: str, path: str, body: dict | None = None) -> dict | None:
    """One request under /v1/{organization}; the decoded answer, if any.
    A 4xx or 5xx raises urllib.error.HTTPError."""
    req = urllib.request.Request(
        f"{creds['base_url']}/v1/{creds['organization']}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        raw = r.read()
    return json.loads(raw) if raw else None


AGENT_VERSION = {
    "initials": "AM",
    "identity": {"name": "Amy", "role": "Support agent", "developed_by": "Example Inc.",
                 "default_spoken_language": "ara",
                 "relationship_to_developer": {"ownership": "Example Inc.", "type": "assistant",
                                               "conversation_visibility": "visible", "thought_visibility": "hidden"}},
    "background": "Amy helps customers with their orders.",
    "behaviors": ["Be polite."], "communication_patterns": ["Short sentences."],
    "voice_config": {"voice_id": "voice-1"},
}


def action_state(name: str, *exits: dict) -> dict:
    return {"type": "action", "name": name, "objective": f"Objective of {name}", "actions": [f"Act in {name}"],
            "intra_state_navigation_guidelines": [], "action_guidelines": [], "boundary_constraints": [],
            "exit_conditions": list(exits), "action_tool_call_specs": [], "exit_condition_tool_call_specs": [],
            "skip_active_memory_retrieval": False}


# A greeting and a goodbye: the smallest action state graph with a transition.
GREETER_VERSION = {
    "description": "A greeting and a goodbye.",
    "states": [action_state("start", {"description": "The user was greeted", "next_state": "end"}),
               action_state("end")],
    "new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
    "references": {}, "global_intra_state_navigation_guidelines": [], "global_action_guidelines": [],
    "global_boundary_constraints": [],
}


def create_service(creds: dict, token: str, suffix: str) -> str:
    """An agent and a context graph, each with version 1, and a service
    pairing them whose `release` version set pins both: what a conversation
    needs. Returns the service's ID."""
    agent = call(creds, token, "POST", "/organization/agent", {"agent_name": f"Amy {suffix}"})["id"]
    call(creds, token, "POST", f"/organization/agent/{agent}/", AGENT_VERSION)
    graph = call(creds, token, "POST", "/organization/service_hierarchical_state_machine",
                 {"state_machine_name": f"greeter {suffix}"})["id"]
    call(creds, token, "POST", f"/organization/service_hierarchical_state_machine/{graph}/", GREETER_VERSION)
    return call(creds, token, "POST", "/service/", {
        "name": f"Support {suffix}", "description": "Support desk", "is_active": True,
        "agent_id": agent, "service_hierarchical_state_machine_id": graph, "keyterms": [], "tags": {},
        "release_version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                                "llm_model_preferences": {}},
    })["id"]


# Evidence: which of the reference's operations a run reached.

_SERIES = re.compile(r'^compadre_http_requests_total\{(.*)\} (\S+)$')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_PARAM = re.compile(r"\{[^}]*\}")


def request_counts(creds: dict) -> dict[tuple[str, str, str], float]:
    """The server's request counter (/metrics), by operation, status and
    kind of client."""
    with urllib.request.urlopen(creds["base_url"] + "/metrics", timeout=10) as r:
        text = r.read().decode()
    counts = {}
    for line in text.splitlines():
        m = _SERIES.match(line)
        if m:
            labels = dict(_LABEL.findall(m.group(1)))
            counts[(labels["operation"], labels["status"], labels["client"])] = float(m.group(2))
    return counts


def reference_names(creds: dict) -> dict[str, str]:
    """Served operationId -> the reference's, for the operations served at
    the reference's method and path (parameters compared by position), as
    the Go tests match them: two are served under the names the release
    notes gave them, and other operations are no row of the table."""
    def shape(method: str, path: str) -> str:
        return method.upper() + " " + _PARAM.sub("{}", path)

    ref = {}
    for line in (REPO / "http" / "testdata" / "reference-operations.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            op, method, path = line.split()
            ref[shape(method, path)] = op
    with urllib.request.urlopen(creds["base_url"] + "/v1/openapi.json", timeout=10) as r:
        doc = json.load(r)
    out = {}
    for path, item in doc["paths"].items():
        for method, o in item.items():
            if isinstance(o, dict) and o.get("operationId") and shape(method, path) in ref:
                out[o["operationId"]] = ref[shape(method, path)]
    return out


def reached(creds: dict, counts: dict, since: dict | None = None,
            client: str | None = None) -> tuple[list[str], list[str]]:
    """The reference operations with requests counted (since an earlier
    count, from one kind of client), and those of them with one answered
    below 400."""
    names = reference_names(creds)
    seen, ok = set(), set()
    for (op, status, kind), n in counts.items():
        if op in names and (client is None or kind == client) and n > (since or {}).get((op, status, kind), 0):
            seen.add(names[op])
            if int(status) < 400:
                ok.add(names[op])
    return sorted(seen), sorted(ok)


def settle_evidence(file: str, about: str, seen: list[str], ok: list[str] | None) -> bool:
    """Hold what a run reached to tests/conformance/<file>; with
    COMPADRE_EVIDENCE=update, rewrite the file instead. False, with the
    difference printed, when they differ."""
    fresh = {"about": about, "reached": seen}
    if ok is not None:
        fresh["succeeded"] = ok
    path = EVIDENCE_DIR / file
    if os.environ.get("COMPADRE_EVIDENCE") == "update":
        path.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
        print(f"evidence: wrote {path.relative_to(REPO)}; run make conformance", flush=True)
        return True
    committed = json.loads(path.read_text())
    lines = []
    for key in ("reached", "succeeded"):
        now, was = fresh.get(key, []), committed.get(key, [])
        lines += [f"  + {key} {op}" for op in now if op not in was]
        lines += [f"  - {key} {op}" for op in was if op not in now]
    if lines:
        print(f"evidence: {path.relative_to(REPO)} is stale: this run reached other operations than it says:",
              *lines, "Run it again with COMPADRE_EVIDENCE=update, then make conformance, and commit both.",
              sep="\n", flush=True)
        return False
    return True
