"""mockserver.state.documents as a unit: the Renderer's reuse of rendered resources (until the store's
version changes, and never one rendered while a write landed), paging links, and `included`."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from support import ALICE, B1, BOB, make_dataset, make_partner

from mockserver.dataset.model import PartnerIntegration
from mockserver.dataset.queries import Page
from mockserver.state.documents import Renderer, Viewer, page_links
from mockserver.state.store import Store

P1, P2, P3 = (make_partner(n, name) for n, name in ((1, "One"), (2, "Two"), (3, "Three")))
INTEGRATION = PartnerIntegration("e0000000-0000-4000-8000-000000000001", B1, P2.id, True, False, "login")
DATA = make_dataset(
    (P1, P2, P3),
    links=frozenset({(ALICE, P1.id), (BOB, P1.id), (BOB, P2.id)}),
    preferred=frozenset({P3.id}),
    integrations=(INTEGRATION,),
)
BOTH = frozenset({"users", "partner_integrations"})


@pytest.fixture
def store() -> Store:
    return Store(DATA)


@pytest.fixture
def renderer(store: Store) -> Renderer:
    return Renderer(store)


def viewer(store: Store, user_id: str = ALICE) -> Viewer:
    user = store.users[user_id]
    return Viewer(user=user, business=store.businesses[user.business_id])


def test_a_resource_is_the_partner_as_this_viewer_sees_it(store: Store, renderer: Renderer) -> None:
    resource = renderer.partner_resource(P2, viewer(store), BOTH)
    assert (resource["id"], resource["type"], resource["links"]) == (
        P2.id,
        "partners",
        {"self": f"/api/v1/partners/{P2.id}"},
    )
    attributes = resource["attributes"]
    assert attributes["name"] == "Two"
    assert (attributes["partner-integration-active"], attributes["partner-integration-requested"]) == (
        True,
        False,
    )
    assert (attributes["preferred"], attributes["user-integration-requested"]) == (False, False)
    assert resource["relationships"]["users"]["data"] == [{"type": "users", "id": BOB}]
    assert resource["relationships"]["partner-integrations"]["data"] == [
        {"type": "partner-integrations", "id": INTEGRATION.id}
    ]
    as_bob = renderer.partner_resource(P2, viewer(store, BOB), frozenset())
    assert as_bob["attributes"]["user-integration-requested"] is True
    assert as_bob["attributes"]["partner-integration-active"] is None  # Bob's business has none
    assert set(as_bob["relationships"]["users"]) == {"links"}  # no linkage without include


def test_a_rendered_resource_is_reused_until_the_store_changes(store: Store, renderer: Renderer) -> None:
    first = renderer.partner_resource(P3, viewer(store), frozenset())
    assert renderer.partner_resource(P3, viewer(store), frozenset()) is first
    assert renderer.partner_resource(P3, viewer(store), frozenset({"users"})) is not first  # another key
    assert renderer.partner_resource(P3, viewer(store, BOB), frozenset()) is not first
    store.connect(BOB, P1.id)  # already linked: no change, no new version
    assert renderer.partner_resource(P3, viewer(store), frozenset()) is first
    store.connect(ALICE, P3.id)
    fresh = renderer.partner_resource(P3, viewer(store), frozenset())
    assert fresh is not first
    assert (
        first["attributes"]["user-integration-requested"],
        fresh["attributes"]["user-integration-requested"],
    ) == (
        False,
        True,
    )
    assert renderer.partner_resource(P3, viewer(store), frozenset()) is fresh


def test_a_resource_rendered_while_a_write_lands_is_not_kept(
    store: Store, renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_links = store.linked_user_ids
    writes = [lambda: store.connect(ALICE, P3.id)]

    def write_then_read(partner_id: str) -> frozenset[str]:
        if writes:
            writes.pop()()  # another request's write lands in the middle of this render
        return read_links(partner_id)

    monkeypatch.setattr(store, "linked_user_ids", write_then_read)
    during = renderer.partner_resource(P3, viewer(store), frozenset())
    # White-box, as nothing else can tell: the piece is in none of the renderer's kept pieces.
    assert all(piece is not during for piece in renderer._pieces[1].values())
    after = renderer.partner_resource(P3, viewer(store), frozenset())
    assert after is not during, "a piece rendered across a write was kept"
    assert after["attributes"]["user-integration-requested"] is True
    assert renderer.partner_resource(P3, viewer(store), frozenset()) is after


def test_included_names_each_linked_resource_once_in_first_seen_order(
    store: Store, renderer: Renderer
) -> None:
    page = Page(items=[P1, P2, P3], number=1, size=25, total_count=3)
    document = renderer.list_document(page, viewer(store), BOTH, {"self": "x"})
    assert [r["id"] for r in document["data"]] == [P1.id, P2.id, P3.id]
    assert document["meta"] == {"total-count": 3, "total-pages": 1}
    assert document["links"] == {"self": "x"}
    # One includes Alice and Bob, Two Bob again and the integration, Three nothing.
    assert [(r["type"], r["id"]) for r in document["included"]] == [
        ("users", ALICE),
        ("users", BOB),
        ("partner-integrations", INTEGRATION.id),
    ]
    assert document["included"][1] == {
        "id": BOB,
        "type": "users",
        "attributes": {"first-name": "Bob", "last-name": "User", "email": "bob-token@example.com"},
    }
    assert document["included"][2]["relationships"] == {
        "business": {"data": {"type": "businesses", "id": B1}},
        "partner": {"data": {"type": "partners", "id": P2.id}},
    }


def test_without_include_there_is_no_included(store: Store, renderer: Renderer) -> None:
    page = Page(items=[P1], number=1, size=25, total_count=1)
    assert "included" not in renderer.list_document(page, viewer(store), frozenset(), {})
    assert set(renderer.single_document(P1, viewer(store), frozenset())) == {"data"}
    single = renderer.single_document(P1, viewer(store), frozenset({"users"}))
    assert [r["id"] for r in single["included"]] == [ALICE, BOB]


def query_of(link: str | None) -> list[tuple[str, str]]:
    assert link is not None
    return parse_qsl(urlsplit(link).query, keep_blank_values=True)


ARGS = [
    ("business_uuid", B1),
    ("page", "2"),
    ("filter[categories][]", "pos"),
    ("filter[categories][]", "payroll"),
    ("per_page", "9"),  # replaced by the page's own size
    ("search", "a b&c=d"),
    ("filter[country_codes]", "GB,FR"),
]
KEPT = [(k, v) for k, v in ARGS if k not in ("page", "per_page")]


@pytest.mark.parametrize(
    ("number", "total", "links"),
    [
        (2, 12, {"self": 2, "first": 1, "prev": 1, "next": 3, "last": 3}),
        (1, 12, {"self": 1, "first": 1, "prev": None, "next": 2, "last": 3}),
        (3, 12, {"self": 3, "first": 1, "prev": 2, "next": None, "last": 3}),
        (7, 12, {"self": 7, "first": 1, "prev": 3, "next": None, "last": 3}),  # past the end: prev has data
        (1, 0, {"self": 1, "first": 1, "prev": None, "next": None, "last": 1}),
    ],
)
def test_page_links_keep_every_other_parameter(number: int, total: int, links: dict[str, int | None]) -> None:
    page = Page(items=[], number=number, size=5, total_count=total)
    got = page_links("/api/v1/partners", ARGS, page)
    assert set(got) == set(links)
    for name, target in links.items():
        if target is None:
            assert got[name] is None, name
            continue
        link = got[name]
        assert link is not None and link.startswith("/api/v1/partners?"), link
        assert query_of(link) == [*KEPT, ("page", str(target)), ("per_page", "5")], name


def test_page_links_spell_brackets_and_commas_as_sent() -> None:
    page = Page(items=[], number=1, size=5, total_count=1)
    link = page_links("/p", [("filter[status][]", "available"), ("filter[status]", "a,b")], page)["self"]
    assert link == "/p?filter[status][]=available&filter[status]=a,b&page=1&per_page=5"
    assert page_links("/p", [], page)["self"] == "/p?page=1&per_page=5"


def test_the_links_parse_back_to_the_values_sent() -> None:
    """Only what must be escaped is: `&`, `=` and spaces in a value do not leak into other parameters."""
    page = Page(items=[], number=1, size=5, total_count=1)
    link = page_links("/p", [("search", "a b&c=d")], page)["self"]
    assert query_of(link) == [("search", "a b&c=d"), ("page", "1"), ("per_page", "5")]
