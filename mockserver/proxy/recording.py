"""`mockserver proxy --record PATH`: the partners the upstream's answers reveal (and the businesses,
users, integrations and links they name), written as a scenario file the mock serves afterwards.

What an answer does not reveal is filled in, and said so in the file's header: a user's token (the
API never shows one) becomes `recorded-user-<n>-token`, and a list read without `business_uuid` is
credited to one placeholder business. The file is rewritten after every answer that added something
(to a temporary file, then renamed), so it is whole whenever the proxy stops.
"""

from __future__ import annotations

import os
import tempfile
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDER_BUSINESS = "b0000000-0000-4000-8000-00000000ffff"
"""Credited with what a list showed when the request named no business (`business_uuid`)."""
HEADER = """\
# Recorded by `mockserver proxy --record` from the answers of {upstream}.
# User tokens are placeholders (the API never shows one); a list read without business_uuid is
# credited to the business {placeholder}. Check it with `mockserver check {name}`.
"""
PARTNER_FIELDS = {
    "name": "name",
    "categories": "categories",
    "wholesaler-types": "wholesaler_types",
    "wholesaler-category": "wholesaler_category",
    "country-code": "country_code",
    "status": "status",
    "active": "active",
    "website-url": "website_url",
    "website-supports-iframe": "website_supports_iframe",
    "video-url": "video_url",
    "description": "description",
    "email": "email",
    "phone": "phone",
    "book-meeting": "book_meeting",
    "display-credentials-prompt": "display_credentials_prompt",
}
"""Partner attribute in the API (dasherized) → field in a scenario file."""


class Recorder:
    """Collects what answers reveal; thread-safe."""

    def __init__(self, path: Path, upstream: str) -> None:
        self.path = Path(path)
        self.upstream = upstream
        self._lock = threading.Lock()
        self.businesses: dict[str, dict[str, Any]] = {}
        self.partners: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.integrations: dict[str, dict[str, Any]] = {}
        self.links: set[tuple[str, str]] = set()

    def observe(self, path: str, query: Mapping[str, str], document: Any) -> None:
        """Take in one successful answer's JSON:API document; rewrite the file if it taught anything."""
        if not isinstance(document, dict):
            return
        data = document.get("data")
        resources = data if isinstance(data, list) else [data]
        included = document.get("included")
        if not isinstance(included, list):
            included = []
        business_id = query.get("business_uuid") or PLACEHOLDER_BUSINESS
        with self._lock:
            before = self._size()
            business = self.businesses.setdefault(
                business_id, {"id": business_id, "name": f"Business {business_id[:8]}", "preferred": set()}
            )
            for resource in resources:
                if isinstance(resource, dict) and resource.get("type") == "partners":
                    self._partner(resource, business)
            for resource in included:
                if isinstance(resource, dict):
                    self._included(resource, business_id)
            if self._size() != before:
                self._write()

    def _size(self) -> tuple[int, ...]:
        return (
            len(self.partners),
            len(self.users),
            len(self.integrations),
            len(self.links),
            sum(len(b["preferred"]) for b in self.businesses.values()),
        )

    def _partner(self, resource: dict[str, Any], business: dict[str, Any]) -> None:
        partner_id = str(resource.get("id"))
        attributes = resource.get("attributes") or {}
        fields: dict[str, Any] = {"id": partner_id}
        for name, field in PARTNER_FIELDS.items():
            if name in attributes:
                fields[field] = attributes[name]
        logo = attributes.get("logo")
        if isinstance(logo, dict) and "url" in logo:
            fields["logo_url"] = logo["url"]
        self.partners[partner_id] = fields
        if attributes.get("preferred") is True:
            business["preferred"].add(partner_id)
        users = ((resource.get("relationships") or {}).get("users") or {}).get("data")
        for user in users if isinstance(users, list) else []:
            if isinstance(user, dict) and "id" in user:
                self.links.add((str(user["id"]), partner_id))

    def _included(self, resource: dict[str, Any], business_id: str) -> None:
        attributes = resource.get("attributes") or {}
        resource_id = str(resource.get("id"))
        if resource.get("type") == "users" and resource_id not in self.users:
            number = len(self.users) + 1
            self.users[resource_id] = {
                "id": resource_id,
                "first_name": attributes.get("first-name") or "Recorded",
                "last_name": attributes.get("last-name") or "User",
                "email": attributes.get("email") or f"recorded-user-{number}@example.invalid",
                "business": business_id,
                "token": f"recorded-user-{number}-token",
            }
        elif resource.get("type") == "partner-integrations":
            relationships = resource.get("relationships") or {}
            self.integrations[resource_id] = {
                "id": resource_id,
                "business": _linked_id(relationships, "business") or business_id,
                "partner": _linked_id(relationships, "partner"),
                "active": bool(attributes.get("active")),
                "requested": bool(attributes.get("requested")),
                "integration_login": attributes.get("integration-login"),
            }

    def scenario(self) -> dict[str, Any]:
        """The scenario as data: only links and integrations whose ends were recorded."""
        businesses = [
            {"id": b["id"], "name": b["name"], "preferred_partners": sorted(b["preferred"])}
            for b in self.businesses.values()
        ]
        users = list(self.users.values())
        if not users:
            users = [_placeholder_user(next(iter(self.businesses), PLACEHOLDER_BUSINESS))]
            if not businesses:
                businesses = [
                    {"id": PLACEHOLDER_BUSINESS, "name": "Recorded business", "preferred_partners": []}
                ]
        user_ids = {u["id"] for u in users}
        return {
            "businesses": businesses,
            "users": users,
            "partners": list(self.partners.values()),
            "integrations": [
                i for i in self.integrations.values() if i["partner"] in self.partners and i["business"]
            ],
            "links": [
                {"user": u, "partner": p}
                for u, p in sorted(self.links)
                if u in user_ids and p in self.partners
            ],
        }

    def _write(self) -> None:
        """Replace the file at once: a reader (or a crash) never sees half of it."""
        header = HEADER.format(upstream=self.upstream, placeholder=PLACEHOLDER_BUSINESS, name=self.path)
        text = header + yaml.safe_dump(self.scenario(), sort_keys=False, allow_unicode=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def _linked_id(relationships: dict[str, Any], name: str) -> str | None:
    data = (relationships.get(name) or {}).get("data")
    return str(data["id"]) if isinstance(data, dict) and "id" in data else None


def _placeholder_user(business_id: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockserver:recorded-user:{business_id}")),
        "first_name": "Recorded",
        "last_name": "User",
        "email": "recorded-user@example.invalid",
        "business": business_id,
        "token": "recorded-user-token",
    }
