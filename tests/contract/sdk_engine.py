"""A conversation end to end through the official Python SDK, unchanged: a
service whose context graph has action, decision and tool-call states and a
published tool, talked to by text, by external event and by voice, then
read back (messages a page of one at a time, insights, recommendations, the
tool's invocation) and finished twice.

The server runs the default `builtin` model, steered by words (DECISIONS.md,
"What does the built-in model do?"): an exit condition is taken when the
user's message shares a word with its description, and the designated
tool's parameters are the JSON object in the user's message. It needs the
Python sandbox running, and the server's tools repository to push to.

Environment: COMPADRE_CREDENTIALS (credentials.json's content) and
COMPADRE_TOOLS_REPO (the server's tools repository).
"""

import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import uuid
import wave
from datetime import timedelta
from pathlib import Path

from amigo_sdk import AmigoClient
from amigo_sdk.errors import AmigoError, ConflictError
from amigo_sdk.generated.model import (
    ConversationCreateConversationRequest,
    CreateConversationParametersQuery,
    Format,
    GetConversationMessagesParametersQuery,
    GetConversationsParametersQuery,
    InteractWithConversationParametersQuery,
    OrganizationCreateAgentRequest,
    OrganizationCreateAgentVersionRequest,
    OrganizationCreateServiceHierarchicalStateMachineRequest,
    OrganizationCreateServiceHierarchicalStateMachineVersionRequest,
    PCMUserMessageAudioConfig,
    SampleWidth,
    ServiceCreateServiceRequest,
)

from harness import AGENT_VERSION, action_state, call, sign_in

creds = json.loads(os.environ["COMPADRE_CREDENTIALS"])
tools_repo = os.environ["COMPADRE_TOOLS_REPO"]
client = AmigoClient(api_key=creds["api_key"], api_key_id=creds["api_key_id"], user_id=creds["user_id"],
                     organization_id=creds["organization"], base_url=creds["base_url"])
token = sign_in(creds)
suffix = uuid.uuid4().hex[:6]
checks = 0
# Checks that failed without stopping the run: the steps after them do not
# depend on them, so they still run and report.
failed: list[str] = []


def check(cond: bool, what: str) -> None:
    global checks
    if not cond:
        sys.exit(f"sdk engine: FAILED: {what}")
    checks += 1


def unwrap(obj):
    """The model inside an SDK union, which may be nested."""
    while hasattr(obj, "root"):
        obj = obj.root
    return obj


def attr(obj, name: str):
    """A field of an SDK event, action or log, which are unions of models."""
    return getattr(unwrap(obj), name, None)


def collect(events) -> list:
    """The stream's events, unwrapped; an error event fails the run."""
    out = [unwrap(e) for e in events]
    errors = [e for e in out if e.type == "error"]
    check(not errors, f"error event in stream: {[e.model_dump() for e in errors]}")
    return out


def actions(events: list) -> list[str]:
    """The agent action types the stream reported, in order."""
    return [attr(e.action, "type") for e in events if e.type == "current-agent-action"]


# The tool: a project pushed to the organization's team branch of the tools
# repository, then created and published over HTTP (the SDK has no tool
# resource).
TOOL = f"greeter_{suffix}"
with tempfile.TemporaryDirectory(prefix="compadre-tool-") as tmp:
    project = Path(tmp) / TOOL
    (project / "greeter").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "greeter"\nversion = "0.1.0"\nrequires-python = ">=3.14"\n\n'
        '[tool.ruff]\ntarget-version = "py314"\n\n[tool.amigo]\nentrypoint = "greeter.main:greet"\n')
    (project / "greeter" / "__init__.py").write_text("")
    (project / "greeter" / "main.py").write_text(
        'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n')
    git = ["git", "-C", tmp, "-c", "user.name=Contract", "-c", "user.email=contract@example.com"]
    branch = f"releases/{creds['organization']}"
    subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
    # On top of the branch if it exists (a rerun against the same server),
    # adding this project only, so the push is a fast-forward.
    if subprocess.run(git + ["fetch", "-q", tools_repo, branch], stderr=subprocess.DEVNULL).returncode == 0:
        subprocess.run(git + ["reset", "-q", "FETCH_HEAD"], check=True)
    for args in (["add", TOOL], ["commit", "-q", "-m", TOOL], ["push", "-q", tools_repo, f"HEAD:{branch}"]):
        subprocess.run(git + args, check=True)
tool_id = call(creds, token, "POST", "/tool/", {"name": TOOL, "description": "Greets a person by name", "tags": {}})["id"]
published = call(creds, token, "POST", f"/tool/{tool_id}/version",
                 {"repo": "team", "project_path": TOOL, "bump_type": "major"})
check(published["new_version"] == "1.0.0", f"published {published}")



def exit_to(description: str, state: str) -> dict:
    return {"description": description, "next_state": state}


# The context graph:
#   start --greet--> route (decision) --by name--> greet (tool-call) --> greeted --goodbye--> end
#                                     --generic--> greeted
greet_spec = {"tool_id": tool_id, "version_constraint": ">=1.0.0", "additional_instruction": "Greet the person named.",
              "audio_fillers": [], "audio_filler_triggered_after": 2, "result_persistence": "persisted"}
GRAPH = {
    "description": "Greets a person by name with a tool.",
    "states": [
        action_state("start", exit_to("The user asks to greet someone", "route")),
        {"type": "decision", "name": "route", "objective": "Pick how to greet",
         "exit_conditions": [exit_to("Greet the person by name", "greet"), exit_to("Send a generic welcome", "greeted")],
         "decision_guidelines": [], "tool_call_specs": [], "audio_fillers": [], "audio_filler_triggered_after": 1},
        {"type": "tool-call", "name": "greet", "next_state": "greeted", "designated_tool": greet_spec,
         "designated_tool_call_params_generation_audio_fillers": [],
         "designated_tool_call_params_generation_audio_filler_triggered_after": 1.5,
         "designated_tool_call_objective": "Greet the person", "designated_tool_call_context": "The user named someone",
         "designated_tool_call_guidances": [], "designated_tool_call_validations": [], "tool_call_specs": []},
        action_state("greeted", exit_to("The user says goodbye", "end")),
        action_state("end"),
    ],
    "new_user_initial_state": "start", "returning_user_initial_state": "start", "terminal_state": "end",
    "references": {}, "global_intra_state_navigation_guidelines": [], "global_action_guidelines": [],
    "global_boundary_constraints": [],
}

agent = client.agents.create(OrganizationCreateAgentRequest(agent_name=f"Greeter {suffix}"))
client.agents.create_agent_version(agent.id, OrganizationCreateAgentVersionRequest.model_validate(AGENT_VERSION))
graph = client.context_graphs.create_context_graph(
    OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name=f"greeter {suffix}"))
client.context_graphs.create_context_graph_version(
    graph.id, OrganizationCreateServiceHierarchicalStateMachineVersionRequest.model_validate(GRAPH))
service = client.services.create_service(ServiceCreateServiceRequest.model_validate({
    "name": f"Greeter {suffix}", "description": "Greets people", "is_active": True, "agent_id": agent.id,
    "service_hierarchical_state_machine_id": graph.id, "keyterms": [], "tags": {},
    "release_version_set": {"agent_version_number": 1, "service_hierarchical_state_machine_version_number": 1,
                            "llm_model_preferences": {}}}))

# Create on `release`: the opening turn speaks from start.
opened = collect(client.conversations.create_conversation(
    ConversationCreateConversationRequest(service_id=service.id, service_version_set_name="release"),
    CreateConversationParametersQuery(response_format=Format.text)))
check(opened[0].type == "conversation-created", f"first event {opened[0]}")
check(opened[-1].type == "interaction-complete", f"last event {opened[-1]}")
check(opened[-1].full_message == "Act in start", f"opening message {opened[-1].full_message!r}")
conversation_id = opened[0].conversation_id
opening_message_id = opened[-1].message_id
TEXT = InteractWithConversationParametersQuery(request_format=Format.text, response_format=Format.text)

# Text: the message shares "greet" with start's exit condition, and "greet"
# and "name" with the decision's first; its JSON object is the tool's input.
said = 'please greet {"name": "Ana"}'
greeted = collect(client.conversations.interact_with_conversation(conversation_id, TEXT, text_message=said))
check(greeted[0].type == "user-message-available" and greeted[0].user_message == said, f"first event {greeted[0]}")
check(greeted[-1].type == "interaction-complete" and greeted[-1].conversation_completed is False,
      f"last event {greeted[-1]}")
check(greeted[-1].full_message == "Act in greeted", f"answer {greeted[-1].full_message!r}")
kinds = actions(greeted)
for kind in ("navigate-state-machine-decision-state-decision-started", "designated-tool-retrieved",
             "designated-tool-call-params-generated", "tool-call-started", "tool-call-ended",
             "navigate-state-machine-tool-call-state-tool-output-available"):
    check(kind in kinds, f"no {kind} action in {kinds}")
ended = next(unwrap(e.action) for e in greeted if e.type == "current-agent-action" and attr(e.action, "type") == "tool-call-ended")
check(ended.result == "Hello, Ana!" and ended.input_parameters == {"name": "Ana"}, f"tool call {ended}")
greet_interaction = greeted[-1].interaction_id
user_message_id = greeted[0].message_id

insights = client.conversations.get_interaction_insights(conversation_id, greet_interaction)
check(insights.current_state_name == "greeted", f"state {insights.current_state_name}")
logs = [(attr(l, "type"), attr(l, "previous_state"), attr(l, "next_state")) for l in insights.state_transition_logs]
check(logs == [("action", "start", "route"), ("decision", "route", "greet"), ("tool-call", "greet", "greeted")],
      f"transition logs {logs}")
designated = attr(insights.state_transition_logs[2], "designated_tool_call_log")
check(designated is not None and designated.tool_id == tool_id and designated.output == "Hello, Ana!",
      f"designated tool call log {designated}")

recommended = client.conversations.recommend_responses_for_interaction(conversation_id, greet_interaction)
responses = recommended.recommended_responses
check(isinstance(responses, list) and len(responses) > 0 and all(r.strip() for r in responses),
      f"recommended responses {responses}")
check(any("goodbye" in r for r in responses), f"no response answers greeted's exit condition: {responses}")

# External event: timed after the newest message as the SDK's own test
# times them. Nothing in it shares a word with "The user says goodbye".
newest = client.conversations.get_conversation_messages(
    conversation_id, GetConversationMessagesParametersQuery(limit=1, sort_by=["-created_at"])).messages[0]
check(newest.id == greeted[-1].message_id, f"newest message {newest.id}, want {greeted[-1].message_id}")
EVENTS = ["The parcel left the warehouse.", "The parcel arrived."]
evented = collect(client.conversations.interact_with_conversation(
    conversation_id, TEXT, initial_message_type="external-event", text_message="Delivery status changed.",
    external_event_message_content=EVENTS,
    external_event_message_timestamp=[newest.created_at + timedelta(seconds=1), newest.created_at + timedelta(seconds=2)]))
check(evented[-1].type == "interaction-complete" and evented[-1].full_message == "Act in greeted",
      f"external event answer {evented[-1]}")
check(client.conversations.get_interaction_insights(conversation_id, evented[-1].interaction_id).current_state_name
      == "greeted", "an external event sharing no word with the exit condition stays")


def tone_wav() -> bytes:
    """One second of a 440 Hz tone: 16 kHz, mono, 16-bit PCM."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 16000)))
                               for i in range(16000)))
    return buf.getvalue()


# Voice: the stored message keeps its audio, served back as its source.
voice_messages = 0
try:
    spoken = collect(client.conversations.interact_with_conversation(
        conversation_id,
        InteractWithConversationParametersQuery(
            request_format=Format.voice, response_format=Format.text,
            request_audio_config=PCMUserMessageAudioConfig(type="pcm", frame_rate=16000, n_channels=1,
                                                           sample_width=SampleWidth.integer_2)),
        audio_bytes=tone_wav(), audio_content_type="audio/wav"))
    check(spoken[0].type == "user-message-available" and spoken[-1].type == "interaction-complete",
          f"voice stream {[e.type for e in spoken]}")
    source = client.conversations.get_message_source(conversation_id, spoken[0].message_id)
    check(source.content_type == "audio/wav", f"voice message source {source}")
    voice_messages = 2  # the user's and the agent's
except AmigoError as e:
    failed.append(f"voice: {e.status_code} ({e}); a voice message must stream a turn and keep its audio")

# Every message, a page of one at a time: each seen once, in the order of
# the whole listing, which is the transcript's.
everything = client.conversations.get_conversation_messages(
    conversation_id, GetConversationMessagesParametersQuery(limit=500)).messages
seen, token_, pages = [], None, 0
while True:
    page = client.conversations.get_conversation_messages(
        conversation_id, GetConversationMessagesParametersQuery(limit=1, continuation_token=token_))
    pages += 1
    check(len(page.messages) == 1, f"page {pages} holds {len(page.messages)} messages")
    seen.append(page.messages[0].id)
    if not page.has_more:
        break
    check(page.continuation_token is not None, f"page {pages} has more but no continuation token")
    token_ = page.continuation_token
    check(pages <= len(everything), f"more pages than the {len(everything)} messages")
check(seen == [m.id for m in everything] and len(set(seen)) == len(seen), f"paged {seen}, listed {everything}")
transcript = [(m.message_type.value, m.message) for m in everything]
check(transcript[:6] == [
    ("agent-message", "Act in start"), ("user-message", said), ("agent-message", "Act in greeted"),
    ("external-event", EVENTS[0]), ("external-event", EVENTS[1]),
    ("external-event", "Delivery status changed.")] and len(transcript) == 7 + voice_messages,
    f"transcript {transcript}")
check(everything[0].id == opening_message_id and everything[1].id == user_message_id, "message IDs as streamed")

# The tool's invocation, found by the conversation's ID.
query = urllib.parse.urlencode({"tool_id": tool_id, "version": "", "conversation_id": conversation_id})
invocations = call(creds, token, "GET", f"/tool/invocation?{query}")["tool_invocations"]
check(len(invocations) == 1, f"invocations {invocations}")
source = invocations[0]["invocation_source"]
check(source["conversation_id"] == conversation_id and source["interaction_id"] == greet_interaction
      and source["invocation_metadata"]["type"] == "tool-call-state"
      and source["invocation_metadata"]["state_name"] == "greet", f"invocation source {source}")
check(invocations[0]["invocation_status"] == {"succeeded": True, "output": "Hello, Ana!"},
      f"invocation status {invocations[0]['invocation_status']}")

# Finish, then finish again.
client.conversations.finish_conversation(conversation_id)
finished = client.conversations.get_conversations(GetConversationsParametersQuery(id=[conversation_id])).conversations
check(finished[0].is_finished is True, "finished")
try:
    client.conversations.finish_conversation(conversation_id)
    check(False, "finishing a finished conversation succeeded")
except ConflictError:
    checks += 1

for f in failed:
    print(f"sdk engine: FAILED: {f}")
print(f"sdk engine: {checks} checks passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
