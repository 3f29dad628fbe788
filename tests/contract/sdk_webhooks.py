"""Webhooks end to end, verified by the official Python SDK's own verifier
(amigo_sdk.webhooks.parse_webhook_event), unchanged: a destination pointed
at a receiver on loopback, a conversation finished so that post-processing
announces its three steps, one delivery refused once and retried (re-signed
with a fresh timestamp, same idempotency key), and, after a secret
rotation, every attempt sent twice, one copy verifying under each secret.
Negative controls: a tampered body, a stale timestamp and the wrong secret
fail the SDK's verification.

The server must allow loopback destinations (--webhook-loopback on).

Environment: COMPADRE_CREDENTIALS (credentials.json's content).
"""

import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from amigo_sdk.webhooks import WebhookVerificationError, parse_webhook_event

from harness import AGENT_VERSION, Checks, action_state, call, sign_in

creds = json.loads(os.environ["COMPADRE_CREDENTIALS"])
token = sign_in(creds)
suffix = uuid.uuid4().hex[:6]
check = Checks("sdk webhooks")


class Receiver(BaseHTTPRequestHandler):
    """Records every request; answers the statuses queued in `answers`,
    then 204."""
    got: list[dict] = []
    answers: list[int] = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 (the handler's name is fixed)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Receiver.lock:
            status = Receiver.answers.pop(0) if Receiver.answers else 204
            Receiver.got.append({"body": body, "key": self.headers.get("x-amigo-idempotent-key"),
                                 "timestamp": self.headers.get("x-amigo-request-timestamp"),
                                 "signature": self.headers.get("x-amigo-request-signature"), "status": status})
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"


def wait_for(n: int, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with Receiver.lock:
            if len(Receiver.got) >= n:
                return list(Receiver.got)
        time.sleep(0.05)
    sys.exit(f"sdk webhooks: FAILED: {len(Receiver.got)} requests, want {n}")


def verify(r: dict, secret: str):
    """The SDK's own verification and parsing of one request."""
    return parse_webhook_event(r["body"], signature=r["signature"], timestamp=r["timestamp"], secret=secret)


def refused(r: dict, secret: str, **changes) -> bool:
    try:
        parse_webhook_event(changes.get("body", r["body"]), signature=r["signature"],
                            timestamp=changes.get("timestamp", r["timestamp"]), secret=secret)
    except WebhookVerificationError:
        return True
    return False


def recorded(query: str, done, timeout: float = 30) -> list[dict]:
    """The destination's deliveries once done(deliveries) holds, or as they
    are at the timeout. The receiver has its request before the server has
    read the answer and recorded the attempt, so a check made as soon as the
    receiver is done could read the record of the attempt before."""
    deadline = time.monotonic() + timeout
    while True:
        deliveries = call(creds, token, "GET", f"/webhook_destination/{dest}/delivery{query}")["webhook_deliveries"]
        if done(deliveries) or time.monotonic() > deadline:
            return deliveries
        time.sleep(0.05)


def finished_conversation() -> str:
    """A conversation on a one-state service, opened and finished."""
    agent = call(creds, token, "POST", "/organization/agent", {"agent_name": f"Hook agent {suffix}-{time.monotonic_ns()}"})["id"]
    call(creds, token, "POST", f"/organization/agent/{agent}/", AGENT_VERSION)
    graph = call(creds, token, "POST", "/organization/service_hierarchical_state_machine",
                 {"state_machine_name": f"hook graph {suffix} {time.monotonic_ns()}"})["id"]
    call(creds, token, "POST", f"/organization/service_hierarchical_state_machine/{graph}/", {
        "description": "One state.", "states": [action_state("start"), action_state("end")],
        "new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
        "references": {}, "global_intra_state_navigation_guidelines": [], "global_action_guidelines": [],
        "global_boundary_constraints": []})
    service = call(creds, token, "POST", "/service/", {
        "name": f"Hooks {suffix} {time.monotonic_ns()}", "description": "d", "is_active": True, "agent_id": agent,
        "service_hierarchical_state_machine_id": graph, "keyterms": [], "tags": {},
        "release_version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                                "llm_model_preferences": {}}})["id"]
    import urllib.request
    req = urllib.request.Request(
        f"{creds['base_url']}/v1/{creds['organization']}/conversation/?response_format=text", method="POST",
        data=json.dumps({"service_id": service, "service_version_set_name": "release"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        first = json.loads(r.readline())
        r.read()
    conv = first["conversation_id"]
    call(creds, token, "POST", f"/conversation/{conv}/finish/")
    return conv


created = call(creds, token, "POST", "/webhook_destination/", {
    "url": url, "accepted_types": ["conversation-post-processing-complete"], "retry_attempts": 2})
dest, secret = created["webhook_destination_id"], created["secret"]

# Three steps, three events; the first request is refused once (500), so
# its delivery is retried after 5 s, signed anew.
Receiver.answers = [500]
conv = finished_conversation()
got = wait_for(4)
steps = set()
for r in got:
    event = verify(r, secret)
    check(event.conversation_id == conv and event.org_id == creds["organization"], f"event {event}")
    steps.add(event.post_processing_type)
check(steps == {"generate-user-models", "extract-memories", "compute-metrics"}, f"steps {steps}")
retried = [r for r in got if r["key"] == got[0]["key"]]
check(len(retried) == 2 and retried[0]["status"] == 500 and retried[1]["status"] == 204 and
      int(retried[1]["timestamp"]) > int(retried[0]["timestamp"]), f"retry {retried}")

# Negative controls, through the SDK.
r = got[1]
check(refused(r, secret, body=r["body"].replace(b"compute", b"kompute").replace(b"extract", b"ekstract")
              .replace(b"generate", b"jenerate")), "a tampered body verifies")
check(refused(r, secret, timestamp=str(int(r["timestamp"]) - 400_000)), "a stale timestamp verifies")
check(refused(r, "whsec_wrong"), "the wrong secret verifies")

deliveries = recorded("", lambda ds: all(d["status"] == "success" for d in ds))
check(len(deliveries) == 3 and all(d["status"] == "success" for d in deliveries), f"deliveries {deliveries}")
codes = sorted([a["status_code"] for a in d["delivery_attempts"]] for d in deliveries)
check(codes == [[204], [204], [500, 204]], f"attempts {codes}")

# After a rotation each attempt goes out twice: the new secret verifies one
# copy, the old secret the other.
rotated = call(creds, token, "POST", f"/webhook_destination/{dest}/rotate-secret")
new_secret = rotated["secret"]
before = len(got)
finished_conversation()
got = wait_for(before + 6)[before:]
by_key: dict[str, list[dict]] = {}
for r in got:
    by_key.setdefault(r["key"], []).append(r)
check(len(by_key) == 3 and all(len(v) == 2 for v in by_key.values()), f"dual-signed copies {len(by_key)}")
for copies in by_key.values():
    new_ok = [c for c in copies if not refused(c, new_secret)]
    old_ok = [c for c in copies if not refused(c, secret)]
    check(len(new_ok) == 1 and len(old_ok) == 1 and new_ok[0] is not old_ok[0], "one copy per secret")
    verify(new_ok[0], new_secret)
deliveries = recorded("?sort_by=-created_at&limit=3", lambda ds: all(d["dual_signed"] for d in ds))
check(all(d["dual_signed"] for d in deliveries), "dual_signed recorded")

server.shutdown()
print(f"sdk webhooks: {check.passed} checks passed")
