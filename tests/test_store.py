"""mockserver.state.store as a unit: links (connect/disconnect and what they return), the version that
readers' caches watch, reset, and click events with ids that follow from the seed and the sequence."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from support import ALICE, BOB, make_dataset, make_partner

from mockserver.dataset.model import DataSet
from mockserver.state.mutable import click_event_id
from mockserver.state.store import ClickEvent, Store

P1, P2, P3 = (make_partner(n, name) for n, name in ((1, "One"), (2, "Two"), (3, "Three")))
DATA = make_dataset((P1, P2, P3), links=frozenset({(ALICE, P1.id), (BOB, P1.id), (BOB, P2.id)}))


@pytest.fixture
def store() -> Store:
    return Store(DATA, seed=7)


def all_links(store: Store) -> set[tuple[str, str]]:
    return {(user, p.id) for p in DATA.partners for user in store.linked_user_ids(p.id)}


def test_the_initial_links_are_the_data_sets(store: Store) -> None:
    assert all_links(store) == DATA.user_partner_links
    assert store.linked_user_ids(P1.id) == frozenset({ALICE, BOB})
    assert store.linked_user_ids(P3.id) == frozenset()
    assert store.linked_user_ids("no-such-partner") == frozenset()


def test_connect_is_true_only_for_a_new_link_and_only_then_bumps_the_version(store: Store) -> None:
    version = store.version
    assert store.connect(ALICE, P2.id) is True
    assert store.version == version + 1
    assert store.linked_user_ids(P2.id) == frozenset({ALICE, BOB})
    assert store.connect(ALICE, P2.id) is False
    assert store.connect(BOB, P1.id) is False  # linked by the data set
    assert store.version == version + 1
    assert all_links(store) == DATA.user_partner_links | {(ALICE, P2.id)}


def test_disconnect_is_true_only_when_a_link_goes_and_only_then_bumps_the_version(store: Store) -> None:
    version = store.version
    assert store.disconnect(BOB, P1.id) is True
    assert store.version == version + 1
    assert store.linked_user_ids(P1.id) == frozenset({ALICE})
    assert store.disconnect(BOB, P1.id) is False
    assert store.disconnect(ALICE, P3.id) is False  # never linked
    assert store.version == version + 1
    assert all_links(store) == DATA.user_partner_links - {(BOB, P1.id)}


def test_a_read_snapshot_does_not_change_under_a_later_write(store: Store) -> None:
    before = store.linked_user_ids(P1.id)
    store.disconnect(ALICE, P1.id)
    store.connect(ALICE, P3.id)
    assert before == frozenset({ALICE, BOB})
    assert store.linked_user_ids(P1.id) == frozenset({BOB})


def test_users_in_order_follow_the_data_set(store: Store) -> None:
    assert [u.id for u in store.users_in_order(frozenset({BOB, ALICE}))] == [ALICE, BOB]
    assert store.users_in_order(frozenset()) == []


def test_indexes_and_the_default_user(store: Store) -> None:
    assert store.partners == {p.id: p for p in DATA.partners}
    assert store.users_by_token["bob-token"].id == BOB
    assert store.default_user is not None and store.default_user.id == ALICE  # no default: the first user
    bob_first = Store(DataSet(DATA.businesses, DATA.users, DATA.partners, (), default_user_id=BOB))
    assert bob_first.default_user is not None and bob_first.default_user.id == BOB
    assert Store(DataSet(DATA.businesses, (), DATA.partners, ())).default_user is None


def test_reset_restores_the_links_and_drops_the_click_events(store: Store) -> None:
    store.connect(ALICE, P3.id)
    store.disconnect(BOB, P2.id)
    store.record_click(P1.id, ALICE, "website")
    version = store.version
    store.reset()
    assert store.version > version
    assert all_links(store) == DATA.user_partner_links
    assert store.click_events() == ()


def test_record_click_stores_the_event(store: Store) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    first = store.record_click(P2.id, BOB, "video")
    second = store.record_click(P1.id, ALICE, "website")
    after = datetime.now(UTC)
    assert (first.partner_id, first.user_id, first.event_type) == (P2.id, BOB, "video")
    assert (second.partner_id, second.user_id, second.event_type) == (P1.id, ALICE, "website")
    assert store.click_events() == (first, second)
    assert all(isinstance(event, ClickEvent) for event in store.click_events())
    for event in (first, second):
        assert event.created_at.tzinfo == UTC and event.created_at.microsecond == 0
        assert before <= event.created_at <= after + timedelta(seconds=1)
        assert uuid.UUID(event.id).version == 4 and str(uuid.UUID(event.id)) == event.id
    assert first.id != second.id


def test_click_event_ids_follow_from_the_seed_and_the_sequence(store: Store) -> None:
    ids = [store.record_click(P1.id, ALICE, "website").id for _ in range(5)]
    assert len(set(ids)) == 5
    same_seed = Store(DATA, seed=7)
    # Whatever the events say, the n-th id of a seed is the same.
    assert [same_seed.record_click(P3.id, BOB, "video").id for _ in range(5)] == ids
    other_seed = Store(DATA, seed=8)
    assert set(ids).isdisjoint(other_seed.record_click(P1.id, ALICE, "website").id for _ in range(5))
    # A reset starts the sequence again.
    store.reset()
    assert [store.record_click(P1.id, ALICE, "website").id for _ in range(2)] == ids[:2]


@pytest.mark.parametrize("incarnation", [0, 7, 2**40])
def test_click_event_ids_are_the_version_4_uuids_of_their_digest(incarnation: int) -> None:
    """The ids of earlier releases, byte for byte (recorded runs and pacts name them)."""
    for sequence in range(1, 500):
        salt = f"{incarnation}:" if incarnation else ""
        digest = hashlib.sha256(f"7:click-event:{salt}{sequence}".encode()).digest()
        assert click_event_id(7, sequence, incarnation) == str(uuid.UUID(bytes=digest[:16], version=4))


def test_forked_stores_share_one_bound_on_click_events() -> None:
    """The bound holds for all of them together: past it, the oldest event of all goes, whichever
    store holds it; a released (evicted) store's events stop counting."""
    first = Store(DATA, seed=7, max_click_events=4)
    second = first.fork()
    budget = first.state.budget  # type: ignore[attr-defined]
    assert second.state.budget is budget  # type: ignore[attr-defined]
    for store in (first, second, first, second, second):
        store.record_click(P1.id, ALICE, "website")
    assert (len(first.click_events()), len(second.click_events())) == (1, 3)
    assert (first.click_events_dropped, second.click_events_dropped) == (1, 0)
    assert (budget.stored, budget.dropped) == (4, 1)
    second.release()
    assert second.click_events() == () and budget.stored == 1
    third = first.fork()
    for _ in range(6):
        third.record_click(P2.id, BOB, "video")
    assert budget.stored <= 4 and len(third.click_events()) == 4
