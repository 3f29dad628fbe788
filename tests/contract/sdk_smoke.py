"""Drive the server through the official Python SDK, unchanged."""

import json
import os
import sys
import uuid

from amigo_sdk import AmigoClient
from amigo_sdk.errors import NotFoundError
from amigo_sdk.generated.model import (
    GetUsersParametersQuery,
    UserCreateInvitedUserRequest,
    UserUpdateUserInfoRequest,
)

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

print(f"sdk smoke: {checks} checks passed")
