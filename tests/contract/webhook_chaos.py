"""Webhook delivery under faults: 1,000 events to a receiver that refuses
30% of attempts at random and is killed (SIGKILL) and restarted once,
while the server itself is killed with SIGKILL once mid-way and started
again on its data directory. Every event must reach the receiver at least
once, all copies of one event must carry one idempotency key and verify
under the official Python SDK's verify_signature, and the server's
delivery records (get-webhook-deliveries) must agree with what the
receiver logged, attempt by attempt.

The receiver is this script run with --receiver; it logs each request
before it answers, line by line, so a kill loses nothing it answered.

Usage: python tests/contract/webhook_chaos.py --binary bin/compadre
"""

import argparse
import json
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from amigo_sdk.webhooks import WebhookVerificationError, verify_signature

from harness import Checks, call, sign_in, start, stop

EVENTS = 1000
FAILURE_RATE = 0.3
RETRY_ATTEMPTS = 5  # the most the reference allows: six attempts in all
RETRY_SCALE = "0.05"  # 5, 10, 20, 20, 20 s become 0.25 to 1 s
RECEIVER_KILLED_AT, SERVER_KILLED_AT = 300, 600
RECEIVER_DOWN = 0.5  # seconds
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def receiver(port: int, log: Path, seed: int) -> None:
    """Answer 500 to FAILURE_RATE of requests at random, 204 to the rest,
    within 20 ms; log each request, with its answer, before answering."""
    rng, lock = random.Random(seed), threading.Lock()
    out = open(log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the handler's name is fixed)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                status = 500 if rng.random() < FAILURE_RATE else 204
                out.write(json.dumps({
                    "key": self.headers.get("x-amigo-idempotent-key"),
                    "timestamp": self.headers.get("x-amigo-request-timestamp"),
                    "signature": self.headers.get("x-amigo-request-signature"),
                    "body": body.decode(), "status": status, "at": time.time()}) + "\n")
                delay = rng.uniform(0, 0.02)
            # A receiver takes a while to answer, so the kills find
            # attempts under way.
            time.sleep(delay)
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_receiver(port: int, log: Path, seed: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(port), str(log), str(seed)],
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.02)
    sys.exit("webhook chaos: the receiver did not start")


def millis(iso: str) -> int:
    """An API time (microseconds, UTC) as the milliseconds a request's
    timestamp header carries."""
    return (datetime.fromisoformat(iso) - EPOCH) // timedelta(milliseconds=1)


def all_deliveries(creds: dict, token: str, dest: str) -> list[dict]:
    out, page = [], 0
    while True:
        got = call(creds, token, "GET", f"/webhook_destination/{dest}/delivery?limit=50&continuation_token={page}")
        out += got["webhook_deliveries"]
        if not got["has_more"]:
            return out
        page = got["continuation_token"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary")
    ap.add_argument("--receiver", nargs=3)
    args = ap.parse_args()
    if args.receiver:
        port, log, seed = args.receiver
        receiver(int(port), Path(log), int(seed))
        return 0

    check = Checks("webhook chaos")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="compadre-chaos-") as tmp:
        work = Path(tmp)
        log = work / "receiver.log"
        recv_port, srv_port = free_port(), free_port()
        flags = ("--addr", f"127.0.0.1:{srv_port}", "--rate-limits", "off", "--sandbox", "off",
                 "--webhook-loopback", "on", "--webhook-retry-scale", RETRY_SCALE)
        recv = start_receiver(recv_port, log, 1)
        server, creds = start(args.binary, work / "data", *flags)
        try:
            token = sign_in(creds)
            created = call(creds, token, "POST", "/webhook_destination/", {
                "url": f"http://127.0.0.1:{recv_port}/hooks", "accepted_types": ["agent-framework-resource-updated"],
                "retry_attempts": RETRY_ATTEMPTS})
            dest, secret = created["webhook_destination_id"], created["secret"]

            agents, receiver_down, server_killed_at, pending_at_kill = set(), None, None, 0
            for i in range(EVENTS):
                if i == RECEIVER_KILLED_AT:
                    recv.send_signal(signal.SIGKILL)
                    recv.wait()
                    receiver_down = time.time()
                    time.sleep(RECEIVER_DOWN)
                    recv = start_receiver(recv_port, log, 2)
                if i == SERVER_KILLED_AT:
                    pending_at_kill = sum(d["status"] != "success" for d in all_deliveries(creds, token, dest))
                    server.send_signal(signal.SIGKILL)
                    server.wait()
                    server_killed_at = time.time()
                    server, creds = start(args.binary, work / "data", *flags)
                    token = sign_in(creds)
                agents.add(call(creds, token, "POST", "/organization/agent", {"agent_name": f"chaos {i}"})["id"])
            generated = time.monotonic()

            # Until every delivery has succeeded or used all its attempts.
            deadline = time.monotonic() + 120
            while True:
                deliveries = all_deliveries(creds, token, dest)
                done = [d for d in deliveries if d["status"] == "success"
                        or len(d["delivery_attempts"]) == RETRY_ATTEMPTS + 1]
                if len(done) == len(deliveries) >= EVENTS or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            settled = time.monotonic()
        finally:
            stop(server)
            recv.send_signal(signal.SIGKILL)
            recv.wait()
        requests = [json.loads(line) for line in log.read_text().splitlines()]

    # One delivery for each event, naming the agent it announces.
    check(len(deliveries) == EVENTS and len(done) == EVENTS,
          f"{len(deliveries)} deliveries ({len(done)} settled), want {EVENTS}")
    by_key = {d["id"]: d for d in deliveries}
    check(len(by_key) == EVENTS, "delivery IDs repeat")
    check({d["webhook_content"]["resource_id"] for d in deliveries} == agents,
          "the deliveries do not announce exactly the agents created")

    # Every event reached the receiver; every copy verifies under the SDK;
    # one event, one key: the copies of an event share it, and no key
    # carries two events.
    seen = defaultdict(list)
    for r in requests:
        seen[r["key"]].append(r)
    check(set(seen) == set(by_key), f"{len(set(by_key) - set(seen))} events never reached the receiver, "
          f"{len(set(seen) - set(by_key))} unknown keys")
    keys_of_agent = defaultdict(set)
    for key, copies in seen.items():
        content = by_key[key]["webhook_content"]
        for r in copies:
            try:
                verify_signature(r["body"], r["timestamp"], r["signature"], secret)
            except WebhookVerificationError:
                check(False, f"a copy of {key} fails the SDK's verification")
            check(json.loads(r["body"]) == content, f"a copy of {key} differs from its recorded content")
            keys_of_agent[content["resource_id"]].add(key)
        stamps = [r["timestamp"] for r in copies]
        check(len(set(stamps)) == len(stamps), f"{key}: a retry reused a timestamp")
    check(all(len(keys) == 1 for keys in keys_of_agent.values()), "an event was sent under two keys")

    # The records agree with the receiver. An attempt recorded with a
    # status was answered with it at that millisecond; one recorded
    # unanswered (0) was not answered (the receiver was down), unless the
    # receiver's kill cut its answer. A request the receiver answered but
    # the records lack was under way when the server was killed.
    cut_by_receiver_kill = lost_with_server = unanswered = 0
    for key, d in by_key.items():
        got = {int(r["timestamp"]): r for r in seen[key]}
        recorded = set()
        for a in d["delivery_attempts"]:
            ms = millis(a["delivery_time"])
            recorded.add(ms)
            r = got.get(ms)
            if a["status_code"] == 0:
                unanswered += 1
                if r is not None:
                    check(abs(r["at"] - receiver_down) < 2, f"{key}: unanswered at {ms}, answered {r}")
                    cut_by_receiver_kill += 1
            else:
                check(r is not None and r["status"] == a["status_code"],
                      f"{key}: recorded {a}, the receiver logged {r}")
        for ms, r in got.items():
            if ms not in recorded:
                # (A request written just before the kill may be read
                # just after it.)
                check(server_killed_at - 15 < r["at"] < server_killed_at + 1,
                      f"{key}: the receiver answered {r['status']} at {ms}, not recorded "
                      f"({r['at'] - server_killed_at:.3f} s after the server's kill; recorded {d['delivery_attempts']}, "
                      f"received {seen[key]})")
                lost_with_server += 1
        codes = [a["status_code"] for a in d["delivery_attempts"]]
        if d["status"] == "success":
            check(200 <= codes[-1] < 300 and all(not 200 <= c < 300 for c in codes[:-1]), f"{key}: {codes}")
        else:
            check(len(codes) == RETRY_ATTEMPTS + 1 and not any(200 <= c < 300 for c in codes), f"{key}: {codes}")
    check(unanswered > 0, "no attempt met the receiver down")
    check(cut_by_receiver_kill <= 8 and lost_with_server <= 32, "more attempts lost in the kills than were under way")

    succeeded = sum(d["status"] == "success" for d in deliveries)
    copies = len(requests)
    print(f"webhook chaos: {check.passed} checks passed; {EVENTS} events, {copies} requests received "
          f"({copies - EVENTS} repeats), {succeeded} succeeded, {EVENTS - succeeded} used all "
          f"{RETRY_ATTEMPTS + 1} attempts; {unanswered} attempts unanswered while the receiver was down, "
          f"{cut_by_receiver_kill} cut by its kill, {lost_with_server} lost with the server's kill "
          f"({pending_at_kill} unfinished at it); generated in {generated - began:.1f} s, settled "
          f"{settled - generated:.1f} s later")
    return 0


if __name__ == "__main__":
    sys.exit(main())
