"""People arrive the way they do in production: provisioned over SCIM by the IdP.

The seeder issues a provisioning token only when someone is missing (an admin call), and
revokes it when done, so a run leaves no live credential behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from canteen.demo.catalog import TIME_ZONES
from canteen.demo.client import Api
from canteen.demo.data import Person

if TYPE_CHECKING:
    from canteen.demo.seeder import SeedReport

ADMIN = "demo-admin"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def scim_user(person: Person) -> dict[str, Any]:
    enterprise: dict[str, Any] = {"department": person.department}
    if person.manager_id:
        enterprise["manager"] = {"value": person.manager_id}
    return {
        "schemas": [CORE, ENTERPRISE],
        "userName": person.user_name,
        "externalId": person.id,
        "name": {"givenName": person.given_name, "familyName": person.family_name},
        "displayName": person.display_name,
        "title": person.title,
        "active": True,
        "emails": [{"value": person.email, "type": "work", "primary": True}],
        ENTERPRISE: enterprise,
    }


async def ensure_people(
    api: Api, people: Sequence[Person], report: SeedReport, tick: Callable[[], None]
) -> None:
    missing: list[Person] = []
    for person in people:
        found = await api.call(
            "GET", f"/api/v1/people/{person.id}", as_user=ADMIN, roles=("admin",), ok=(404,)
        )
        if found.status_code == 200 and found.json().get("active", True):
            report.add("people", False)
            tick()
        else:
            missing.append(person)
    if not missing:
        return
    issued = await api.call(
        "POST",
        "/api/v1/admin/scim-tokens",
        as_user=ADMIN,
        roles=("admin",),
        json={"name": "canteen admin seed-demo"},
    )
    credential = issued.json()
    try:
        # In list order: managers come before their reports.
        for person in missing:
            created = await api.call(
                "POST",
                "/scim/v2/Users",
                as_user=ADMIN,
                bearer=credential["token"],
                json=scim_user(person),
                ok=(409,),
            )
            if created.status_code != 409:
                # Where they sit is theirs to say, not the IdP's: set it as the person.
                await api.call(
                    "PATCH",
                    "/api/v1/people/me",
                    as_user=person.id,
                    json={"location": person.location, "time_zone": TIME_ZONES[person.location]},
                )
            report.add("people", created.status_code != 409)
            tick()
    finally:
        await api.call(
            "DELETE",
            f"/api/v1/admin/scim-tokens/{credential['id']}",
            as_user=ADMIN,
            roles=("admin",),
        )
