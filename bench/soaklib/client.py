"""The good clients' HTTP: one keep-alive connection per thread, and the ids the load uses."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from benchlib.common import click_body

CLICK_BODY = click_body().encode()
VIDEO_CLICK_BODY = click_body("video").encode()
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
"""What a request may raise: refused, reset, timed out, a short or garbled response."""


class Client:
    """One HTTP/1.1 connection kept alive between requests, reopened after an error or a close."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def send(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """Status and body; raises one of TRANSPORT_ERRORS (and drops the connection) on failure."""
        conn = self._conn or http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._conn = conn
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response.status, data

    def get_json(self, path: str, headers: Mapping[str, str] | None = None) -> Any:
        """GET a JSON document; a RuntimeError for any status but 200."""
        status, body = self.send("GET", path, headers=headers)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class DataSet:
    """What the load is made of, read from the server before it starts."""

    businesses: list[str]
    tokens: list[str]
    user_ids: dict[str, str]
    """token -> user id"""
    partners: list[str]
    """every partner id, name order"""
    names: list[str]

    @classmethod
    def fetch(cls, client: Client) -> DataSet:
        data = client.get_json("/__admin/data")
        businesses = [b["id"] for b in data["businesses"]]
        users = [u for u in data["users"] if u.get("token")]
        if not businesses or not users:
            raise RuntimeError("the data set needs at least one business and one user with a token")
        partners: list[str] = []
        names: list[str] = []
        page = 1
        while True:
            doc = client.get_json(f"/api/v1/partners?business_uuid={businesses[0]}&per_page=100&page={page}")
            partners += [p["id"] for p in doc["data"]]
            names += [p["attributes"]["name"] for p in doc["data"]]
            if not doc["data"] or doc["links"].get("next") is None:
                break
            page += 1
        if not partners:
            raise RuntimeError("the data set has no partners")
        return cls(
            businesses=businesses,
            tokens=[u["token"] for u in users],
            user_ids={u["token"]: u["id"] for u in users},
            partners=partners,
            names=names,
        )
