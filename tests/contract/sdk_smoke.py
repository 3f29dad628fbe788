"""Drive the server through the official Python SDK, unchanged."""

import json
import os
import sys
import uuid
import warnings

from amigo_sdk import AmigoClient
from amigo_sdk.errors import ConflictError, NotFoundError
from amigo_sdk.generated.model import (
    ConversationCreateConversationRequest,
    CreateConversationParametersQuery,
    Format,
    GetConversationsParametersQuery,
    GetServicesParametersQuery,
    GetUsersParametersQuery,
    OrganizationCreateAgentRequest,
    OrganizationCreateAgentVersionRequest,
    OrganizationCreateServiceHierarchicalStateMachineRequest,
    OrganizationCreateServiceHierarchicalStateMachineVersionRequest,
    ServiceCreateServiceRequest,
    UserCreateInvitedUserRequest,
    UserUpdateUserInfoRequest,
)

from harness import AGENT_VERSION, GREETER_VERSION

creds = json.loads(os.environ["COMPADRE_CREDENTIALS"])
client = AmigoClient(api_key=creds["api_key"], api_key_id=creds["api_key_id"], user_id=creds["user_id"],
                     organization_id=creds["organization"], base_url=creds["base_url"])
checks = 0


def check(cond: bool, what: str) -> None:
    global checks
    if not cond:
        sys.exit(f"sdk smoke: FAILED: {what}")
    checks += 1


org = client.organizations.get()
check(org.org_id == creds["organization"], f"organization id {org.org_id}")
check(org.default_user_preferences is not None, "default preferences shown to the administrator")

email = f"sdk-{uuid.uuid4().hex[:8]}@example.com"
created = client.users.create(UserCreateInvitedUserRequest(
    first_name="Sdk", last_name="Smoke", email=email, role_name="DefaultUserRole"))
check(len(created.user_id) == 24, f"user id {created.user_id}")

listed = client.users.list(GetUsersParametersQuery(email=[email]))
check([u.user_id for u in listed.users] == [created.user_id], f"list by email: {listed.users}")
check(listed.has_more is False, "has_more")

client.users.update(created.user_id, UserUpdateUserInfoRequest(first_name="Renamed", timezone="Europe/Lisbon"))
after = client.users.list(GetUsersParametersQuery(user_id=[created.user_id])).users[0]
check(after.first_name == "Renamed", f"first name {after.first_name}")
check(after.preferences.timezone == "Europe/Lisbon", f"timezone {after.preferences.timezone}")

model = client.users.get_user_model(created.user_id)
check(model.user_models == [], f"user models {model.user_models}")

client.users.delete(created.user_id)
try:
    client.users.delete(created.user_id)
    check(False, "deleting a deleted user succeeded")
except NotFoundError:
    checks += 1

# An agent, a context graph, a service pairing them, and a conversation
# with it, through the SDK's own resources and models.
agent = client.agents.create(OrganizationCreateAgentRequest(agent_name=f"Amy {uuid.uuid4().hex[:6]}"))
client.agents.create_agent_version(agent.id, OrganizationCreateAgentVersionRequest.model_validate(AGENT_VERSION))
versions = client.agents.get_agent_versions(agent.id)
check([v.version for v in versions.agent_versions] == [1], f"agent versions {versions.agent_versions}")
check(versions.agent_versions[0].voice_config.voice_id == "voice-1", "voice config kept")


graph = client.context_graphs.create_context_graph(
    OrganizationCreateServiceHierarchicalStateMachineRequest(state_machine_name=f"greeter {uuid.uuid4().hex[:6]}"))
client.context_graphs.create_context_graph_version(
    graph.id, OrganizationCreateServiceHierarchicalStateMachineVersionRequest.model_validate(GREETER_VERSION))
check([v.version for v in client.context_graphs.get_context_graph_versions(graph.id).state_machine_versions] == [1],
      "context graph version 1")

service = client.services.create_service(ServiceCreateServiceRequest.model_validate({
    "name": f"Support {uuid.uuid4().hex[:6]}", "description": "Support desk", "is_active": True,
    "agent_id": agent.id, "service_hierarchical_state_machine_id": graph.id,
    "keyterms": ["compadre", "order number"], "tags": {}}))  # the SDK model cannot hold tag keys (unhashable)
listed_services = client.services.get_services(GetServicesParametersQuery(id=[service.id])).services
check([x.id for x in listed_services] == [service.id], f"services {listed_services}")
check(listed_services[0].keyterms == ["compadre", "order number"], f"keyterms {listed_services[0].keyterms}")

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Pydantic serializer warnings")
    events = list(client.conversations.create_conversation(
        # model_construct: the SDK's tag models cannot be dictionary keys.
        ConversationCreateConversationRequest.model_construct(service_id=service.id, tags={"channel": "web"}),
        CreateConversationParametersQuery(response_format=Format.text)))
types = [e.root.type for e in events]
check(types[0] == "conversation-created" and "new-message" in types and types[-1] == "interaction-complete",
      f"stream {types}")
conversation_id = events[0].root.conversation_id
convs = client.conversations.get_conversations(GetConversationsParametersQuery(id=[conversation_id])).conversations
check(len(convs) == 1 and convs[0].tags == {"channel": "web"}, f"conversations {convs}")
check(convs[0].is_finished is False, "a new conversation is not finished")
client.conversations.finish_conversation(conversation_id)
convs = client.conversations.get_conversations(GetConversationsParametersQuery(id=[conversation_id])).conversations
check(convs[0].is_finished is True, "finished")
try:
    client.conversations.finish_conversation(conversation_id)
    check(False, "finishing a finished conversation succeeded")
except ConflictError:
    checks += 1

print(f"sdk smoke: {checks} checks passed")
