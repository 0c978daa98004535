"""Well-behaved clients: readers (four list and read operations) and writers (click events, links).

Every thread draws its requests from its own `random.Random`, seeded from --seed and its role, so a
run with the same seed sends the same requests in each thread (their interleaving is the scheduler's).
Links: each (token, partner) pair belongs to one writer thread, so its operations are serialized and
the last one the server acknowledged is well defined.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

from .client import CLICK_BODY, JSON_HEADERS, TRANSPORT_ERRORS, VIDEO_CLICK_BODY, Client, DataSet, bearer
from .tally import Tally

LINK_PARTNERS = 12
"""Partners the writers link and unlink (times every user: the pairs)."""
CLICK_SHARE = 0.5
"""Share of a writer's requests that are click events; the rest are PATCH/DELETE …/connect."""
SETTLE_ATTEMPTS = 3

Pair = tuple[str, str]
"""(token, partner id)"""

AVAILABLE_VARIANTS = (
    "",
    "&page=2",
    "&page=50",
    "&filter[status]=coming_soon",
    "&filter[status][]=available&filter[categories][]=pos",
    "&filter[categories]=pos,payments,wholesaler",
)
WHOLESALER_VARIANTS = ("?per_page=25", "?per_page=10&page=2", "?per_page=25&include=users")
BUSINESS_VARIANTS = (
    "",
    "&per_page=25",
    "&page=2&per_page=10",
    "&include=users,partner_integrations&per_page=10",
    "&filter[preferred]=true",
    "&filter[active]=false&filter[excluded_categories][]=pos",
    "&filter[wholesaler_categories][]=wine&filter[wholesaler_categories][]=beer",
)


@dataclass
class PairState:
    last_ack: str | None = None
    """"linked" after a 200 to PATCH, "unlinked" after a 200 to DELETE"""
    uncertain: bool = False
    """the last operation got no acknowledgement (the server may or may not have applied it)"""
    acked: int = 0


def search_term(rng: random.Random, names: list[str]) -> str:
    name = rng.choice(names).lower()
    start = rng.randrange(max(1, len(name) - 2))
    return name[start : start + 3].strip() or "a"


def reader_request(rng: random.Random, data: DataSet) -> tuple[str, str, dict[str, str]]:
    """(kind, path, headers) of one reader request."""
    headers = bearer(rng.choice(data.tokens)) if rng.random() < 0.5 else {}
    pick = rng.random()
    if pick < 0.35:
        variant = rng.choice(AVAILABLE_VARIANTS + ("search",))
        if variant == "search":
            variant = f"&search={quote(search_term(rng, data.names))}"
        return "list-available", f"/api/v1/partners/available?per_page=25{variant}", headers
    if pick < 0.5:
        return "list-wholesalers", f"/api/v1/partners/wholesalers{rng.choice(WHOLESALER_VARIANTS)}", headers
    if pick < 0.7:
        business = rng.choice(data.businesses)
        variant = rng.choice(BUSINESS_VARIANTS)
        return "list-business", f"/api/v1/partners?business_uuid={business}{variant}", headers
    return "get-partner", f"/api/v1/partners/{rng.choice(data.partners)}?include=users", headers


def timed(
    client: Client, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int | BaseException, float]:
    started = time.perf_counter()
    try:
        status, _ = client.send(method, path, body, headers)
    except TRANSPORT_ERRORS as exc:
        return exc, time.perf_counter() - started
    return status, time.perf_counter() - started


def run_reader(
    index: int, seed: int, data: DataSet, client: Client, stop: threading.Event, tally: Tally
) -> None:
    rng = random.Random(f"{seed}:reader:{index}")
    try:
        while not stop.is_set():
            kind, path, headers = reader_request(rng, data)
            outcome, seconds = timed(client, "GET", path, None, headers)
            tally.good(kind, outcome, 200, seconds)
    finally:
        client.close()


def link_pairs(seed: int, data: DataSet, writers: int) -> list[dict[Pair, PairState]]:
    """Every user with a seeded sample of partners, dealt round-robin to the writer threads."""
    rng = random.Random(f"{seed}:pairs")
    partners = rng.sample(data.partners, min(LINK_PARTNERS, len(data.partners)))
    pairs = [(token, partner) for partner in partners for token in data.tokens]
    rng.shuffle(pairs)
    owned: list[dict[Pair, PairState]] = [{} for _ in range(writers)]
    for i, pair in enumerate(pairs):
        owned[i % writers][pair] = PairState()
    return owned


def connect(client: Client, tally: Tally, pair: Pair, state: PairState, link: bool) -> None:
    token, partner = pair
    path = f"/api/v1/partners/{partner}/connect"
    kind, method, expected = ("connect-patch", "PATCH", 200) if link else ("connect-delete", "DELETE", 200)
    outcome, seconds = timed(client, method, path, None, bearer(token))
    if tally.good(kind, outcome, expected, seconds):
        state.last_ack = "linked" if link else "unlinked"
        state.uncertain = False
        state.acked += 1
    else:
        state.uncertain = True


def run_writer(
    index: int,
    seed: int,
    data: DataSet,
    pairs: dict[Pair, PairState],
    client: Client,
    stop: threading.Event,
    tally: Tally,
) -> None:
    rng = random.Random(f"{seed}:writer:{index}")
    owned = sorted(pairs)
    try:
        while not stop.is_set():
            if not owned or rng.random() < CLICK_SHARE:
                partner = rng.choice(data.partners)
                headers = dict(JSON_HEADERS)
                if rng.random() < 0.5:
                    headers.update(bearer(rng.choice(data.tokens)))
                body = CLICK_BODY if rng.random() < 0.8 else VIDEO_CLICK_BODY
                path = f"/api/v1/partners/{partner}/click_event"
                outcome, seconds = timed(client, "POST", path, body, headers)
                tally.good("click-event", outcome, 201, seconds)
            else:
                pair = rng.choice(owned)
                connect(client, tally, pair, pairs[pair], link=rng.random() < 0.5)
    finally:
        client.close()


def settle(client: Client, tally: Tally, pairs: dict[Pair, PairState]) -> None:
    """After the load: a pair whose last operation went unacknowledged gets PATCHed until acknowledged,
    so every pair the soak touched has a well-defined expected state."""
    for pair, state in sorted(pairs.items()):
        for _ in range(SETTLE_ATTEMPTS):
            if not state.uncertain:
                break
            connect(client, tally, pair, state, link=True)
    client.close()
