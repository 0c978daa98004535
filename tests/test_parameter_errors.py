"""Query parameters and Authorization: every error is the whole JSON:API document, and nothing changes.

Each test compares the complete error document (status, code, title, detail, source) for equality,
so a vague or misplaced message fails here, then checks the app still serves and its state (links,
click events) is exactly as the data set loaded it. Hostile input is included: very long, unicode,
bidi and NUL values, injection strings (plain data, never evaluated), integers Python's int() would
read too generously. Paths, ids and methods are in test_path_and_method_errors.py, request bodies in
test_body_errors.py, what only a real HTTP server sees in test_http.py.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    AVAILABLE_FILTERS,
    B1,
    BUSINESS_NOT_FOUND,
    CATEGORIES,
    CLICK_BYTES,
    DUPLICATE_PARAMETER,
    INJECTIONS,
    INVALID_PARAMETER,
    JSON,
    LIST_FILTERS,
    MISSING_PARAMETER,
    NO_SUCH_ID,
    P01,
    P02,
    P08,
    PARTNER_NOT_FOUND,
    UNKNOWN_PARAMETER,
    UNKNOWN_TOKEN,
    WHOLESALER_TYPES,
    assert_errors,
    assert_unchanged,
    item,
    send,
)
from werkzeug.test import TestResponse

LIST_URLS = {
    "listPartners": f"{API}?business_uuid={B1}&",
    "listAvailablePartners": f"{API}/available?",
    "listWholesalers": f"{API}/wholesalers?",
}
"""The three list operations, ready for one more query parameter."""
SEARCHABLE = {"list": f"{API}?business_uuid={B1}&", "available": f"{API}/available?"}
"""The operations with `search`."""


def get(client: FlaskClient, url: str, **params: str) -> TestResponse:
    """GET url with these query parameters percent-encoded (url ends in `?` or `&`)."""
    return send(client, "GET", url + urllib.parse.urlencode(params))


def assert_empty_result_echoing_search(response: TestResponse, search: str) -> None:
    """200, nothing matched, and the paging links carry the search back exactly as sent."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    document = response.get_json()
    assert document["data"] == []
    assert document["meta"] == {"total-count": 0, "total-pages": 0}
    for name in ("self", "first", "last"):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(document["links"][name]).query)
        assert query["search"] == [search], (name, document["links"][name])


# --------------------------------------------------------------------------------------------------
# business_uuid


def test_missing_business_uuid(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", API),
        400,
        item(MISSING_PARAMETER, "business_uuid is required", parameter="business_uuid"),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize("value", ["abc", "12345", f"{B1}x", B1.replace("-", ""), "😀"])
def test_malformed_business_uuid(shared_client: FlaskClient, value: str) -> None:
    assert_errors(
        get(shared_client, f"{API}?", business_uuid=value),
        400,
        item(
            INVALID_PARAMETER, f"business_uuid must be a valid uuid, got '{value}'", parameter="business_uuid"
        ),
    )
    assert_unchanged(shared_client)


def test_empty_business_uuid(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?business_uuid="),
        400,
        item(INVALID_PARAMETER, "business_uuid must not be empty", parameter="business_uuid"),
    )


def test_unknown_business_uuid(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?business_uuid={NO_SUCH_ID}"),
        404,
        item(BUSINESS_NOT_FOUND, f"No business has id {NO_SUCH_ID}", parameter="business_uuid"),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("PATCH", "/connect"), ("DELETE", "/connect"), ("POST", "/click_event")],
)
def test_a_business_id_in_the_partner_path_says_where_it_goes(
    shared_client: FlaskClient, method: str, suffix: str
) -> None:
    """A mix-up the docs invite (their `business_uuid` is "path, integer"): the 404 says what the id is."""
    body = CLICK_BYTES if method == "POST" else None
    assert_errors(
        send(shared_client, method, f"{API}/{B1}{suffix}", body, content_type=JSON if body else None),
        404,
        item(
            PARTNER_NOT_FOUND,
            f"No partner has id {B1}: it is the id of the business 'The Golden Fork'. A business goes "
            f"in the business_uuid query parameter: GET /api/v1/partners?business_uuid={B1}",
            parameter="id",
        ),
    )
    assert_unchanged(shared_client)


def test_a_user_id_in_the_partner_path_says_what_it_is(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/{ALICE}"),
        404,
        item(
            PARTNER_NOT_FOUND,
            f"No partner has id {ALICE}: it is the id of a user. The current user is picked by the "
            "Authorization header's token",
            parameter="id",
        ),
    )


# --------------------------------------------------------------------------------------------------
# page and per_page: an optional sign and ASCII digits, in range


PAGING_CASES = [
    ("page", "0", "page must be at least 1, got 0"),
    ("page", "-1", "page must be at least 1, got -1"),
    ("page", "-12345678901234567890", "page must be at least 1, got -12345678901234567890"),
    ("page", "12345678901234567890", "page must be at most 2147483647, got 12345678901234567890"),
    ("page", "2147483648", "page must be at most 2147483647, got 2147483648"),
    ("page", "abc", "page must be an integer, got 'abc'"),
    ("page", "1e9", "page must be an integer, got '1e9'"),
    ("page", "6.1e-05", "page must be an integer, got '6.1e-05'"),
    ("page", "1.0", "page must be an integer, got '1.0'"),
    ("page", "2.5", "page must be an integer, got '2.5'"),
    ("page", "", "page must be an integer, got ''"),
    ("page", "0x10", "page must be an integer, got '0x10'"),
    ("page", "NaN", "page must be an integer, got 'NaN'"),
    ("page", "Infinity", "page must be an integer, got 'Infinity'"),
    ("page", "1%20000", "page must be an integer, got '1 000'"),
    ("page", "%00", "page must be an integer, got '\\x00'"),
    ("page", "1%00", "page must be an integer, got '1\\x00'"),
    ("page", "%F0%9F%98%80", "page must be an integer, got '😀'"),
    ("page", "%27%20OR%201%3D1%20--", 'page must be an integer, got "\' OR 1=1 --"'),
    # int() reads these too: `page=1_0` must not quietly mean page 10, nor a non-ASCII digit a number.
    ("page", "1_0", "page must be an integer, got '1_0'"),
    ("page", "%EF%BC%91", "page must be an integer, got '１'"),  # FULLWIDTH DIGIT ONE
    ("page", "%D9%A3", "page must be an integer, got '٣'"),  # ARABIC-INDIC DIGIT THREE
    ("per_page", "0", "per_page must be at least 1, got 0"),
    ("per_page", "-5", "per_page must be at least 1, got -5"),
    ("per_page", "101", "per_page must be at most 100, got 101"),
    ("per_page", "1000", "per_page must be at most 100, got 1000"),
    ("per_page", "2147483648", "per_page must be at most 100, got 2147483648"),
    ("per_page", "99999999999999999999", "per_page must be at most 100, got 99999999999999999999"),
    ("per_page", "ten", "per_page must be an integer, got 'ten'"),
    ("per_page", "1e2", "per_page must be an integer, got '1e2'"),
    ("per_page", "%00", "per_page must be an integer, got '\\x00'"),
    ("per_page", "{{7*7}}", "per_page must be an integer, got '{{7*7}}'"),
    ("per_page", "1_0", "per_page must be an integer, got '1_0'"),
    ("per_page", "%E0%A5%AB", "per_page must be an integer, got '५'"),  # DEVANAGARI DIGIT FIVE
]


@pytest.mark.parametrize("operation", sorted(LIST_URLS))
@pytest.mark.parametrize(
    ("name", "value", "detail"), PAGING_CASES, ids=[f"{n}={v or 'empty'}" for n, v, _ in PAGING_CASES]
)
def test_bad_paging_value(
    shared_client: FlaskClient, operation: str, name: str, value: str, detail: str
) -> None:
    assert_errors(
        send(shared_client, "GET", f"{LIST_URLS[operation]}{name}={value}"),
        400,
        item(INVALID_PARAMETER, detail, parameter=name),
    )
    assert_unchanged(shared_client)


def test_a_page_number_of_5000_digits_is_out_of_range_not_a_non_integer(shared_client: FlaskClient) -> None:
    """A number is a number however long: the detail must say "at most", not "must be an integer".

    Python refuses int() on strings over 4300 digits (ValueError), which the cast reports as
    "page must be an integer, got '999…'": wrong advice for a client that did send an integer.
    """
    response = send(shared_client, "GET", f"{API}/wholesalers?page={'9' * 5000}")
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    [error] = response.get_json()["errors"]
    assert (error["code"], error["source"]) == ("invalid_parameter", {"parameter": "page"})
    assert error["detail"].startswith("page must be at most 2147483647, got "), error["detail"]
    assert len(error["detail"]) < 200, "the detail must not echo 5000 digits"
    assert_unchanged(shared_client)


# --------------------------------------------------------------------------------------------------
# include


INCLUDE_CASES = [
    ("bogus", "include item 1 must be one of 'users', 'partner_integrations', got 'bogus'"),
    ("", "include item 1 must be one of 'users', 'partner_integrations', got ''"),
    ("users,bogus", "include item 2 must be one of 'users', 'partner_integrations', got 'bogus'"),
    (
        "partner-integrations",
        "include item 1 must be one of 'users', 'partner_integrations', got 'partner-integrations'",
    ),
]
INCLUDE_URLS = {**LIST_URLS, "getPartner": f"{API}/{P01}?"}


@pytest.mark.parametrize("operation", sorted(INCLUDE_URLS))
@pytest.mark.parametrize(("value", "detail"), INCLUDE_CASES, ids=[v or "empty" for v, _ in INCLUDE_CASES])
def test_bad_include(shared_client: FlaskClient, operation: str, value: str, detail: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{INCLUDE_URLS[operation]}include={value}"),
        400,
        item(INVALID_PARAMETER, detail, parameter="include"),
    )
    assert_unchanged(shared_client)


# --------------------------------------------------------------------------------------------------
# search: 1 to 256 characters of plain text


@pytest.mark.parametrize(
    ("path", "search", "length"),
    [
        ("list", "x" * 257, 257),
        ("available", "x" * 10240, 10240),
        ("available", "😀" * 257, 257),  # the limit counts characters, not bytes nor UTF-16 units
        ("available", "مرحبا" * 2048, 10240),
        ("available", "\x00" * 10240, 10240),
    ],
    ids=["ascii-257", "ascii-10k", "emoji-257", "rtl-10k", "nul-10k"],
)
def test_overlong_search_is_400_counting_characters(
    shared_client: FlaskClient, path: str, search: str, length: int
) -> None:
    assert_errors(
        get(shared_client, SEARCHABLE[path], search=search),
        400,
        item(
            INVALID_PARAMETER, f"search must be at most 256 characters long, got {length}", parameter="search"
        ),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize("path", sorted(SEARCHABLE))
def test_empty_search_is_400(shared_client: FlaskClient, path: str) -> None:
    """The spec gives `search` 1 to 256 characters: `search=` is refused, naming the parameter."""
    response = send(shared_client, "GET", f"{SEARCHABLE[path]}search=")
    assert response.status_code == 400
    (error,) = response.get_json()["errors"]
    assert (error["status"], error["code"], error["source"]) == (
        "400",
        "invalid_parameter",
        {"parameter": "search"},
    )
    assert "search" in error["detail"] and "empty" in error["detail"]


ODD_SEARCHES = [
    "😀",
    "👩‍👩‍👧‍👦",  # a ZWJ sequence
    "مرحبا",  # RTL
    "\u202eSOP potlliT",  # RIGHT-TO-LEFT OVERRIDE + reversed "TillTop POS"
    "שלום\u200f",
    "\x00",
    "TillTop\x00",
    "e\u0301",  # combining acute accent
    "\ufeff",
    "\U0010ffff",
    "%",
    "_",
    ".*",
    "\\",
    "a" * 256,  # the longest search allowed
    "😀" * 256,  # the limit counts characters, not bytes (1024) nor UTF-16 units (512)
]


@pytest.mark.parametrize("search", ODD_SEARCHES, ids=[repr(s[:12]) for s in ODD_SEARCHES])
@pytest.mark.parametrize("path", sorted(SEARCHABLE))
def test_odd_searches_are_plain_text_matching_nothing(
    shared_client: FlaskClient, path: str, search: str
) -> None:
    assert_empty_result_echoing_search(get(shared_client, SEARCHABLE[path], search=search), search)
    assert_unchanged(shared_client)


def test_search_still_matches_literally_around_odd_input(shared_client: FlaskClient) -> None:
    """A control: the same machinery finds a partner whose name holds the text."""
    response = get(shared_client, SEARCHABLE["list"], search="tilltop p")
    assert [p["attributes"]["name"] for p in response.get_json()["data"]] == ["TillTop POS"]


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("path", sorted(SEARCHABLE))
def test_injection_in_search_is_plain_data(shared_client: FlaskClient, path: str, value: str) -> None:
    response = get(shared_client, SEARCHABLE[path], search=value)
    assert_empty_result_echoing_search(response, value)
    text = response.get_data(as_text=True)
    assert "49" not in text, "a template expression was evaluated"
    assert "root:x:0:0" not in text and "uid=0(" not in text, "a command or file read ran"
    assert_unchanged(shared_client)


def test_shell_in_search_runs_nothing(shared_client: FlaskClient, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for value in (f"$(touch {marker})", f"`touch {marker}`", f"; touch {marker}"):
        assert_empty_result_echoing_search(get(shared_client, SEARCHABLE["available"], search=value), value)
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# filters


UNKNOWN_FILTER_CASES = [
    (f"{API}?business_uuid={B1}&", "filter[bogus]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[status]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[status][]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[status][0]", LIST_FILTERS),  # not an array of this operation
    (f"{API}?business_uuid={B1}&", "filter[preferred][0]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[categories][0][x]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[]", LIST_FILTERS),
    (f"{API}/available?", "filter[preferred]", AVAILABLE_FILTERS),
    (f"{API}/available?", "filter[bogus]", AVAILABLE_FILTERS),
    (f"{API}/available?", "filter[country_codes][]", AVAILABLE_FILTERS),
    (f"{API}/available?", "filter[active]", AVAILABLE_FILTERS),
]


@pytest.mark.parametrize(
    ("url", "key", "known"),
    UNKNOWN_FILTER_CASES,
    ids=[f"{u.split('?')[0]}-{k}" for u, k, _ in UNKNOWN_FILTER_CASES],
)
def test_unknown_filter_key(shared_client: FlaskClient, url: str, key: str, known: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{url}{key}=x"),
        400,
        item(UNKNOWN_PARAMETER, f"Unknown filter {key}; known filters: {known}", parameter=key),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize("key", ["filter[categories]", "filter[categories][]"])
@pytest.mark.parametrize("url", [f"{API}/wholesalers", f"{API}/{P01}"])
def test_filter_on_operation_without_filters(shared_client: FlaskClient, url: str, key: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{url}?{key}=pos"),
        400,
        item(UNKNOWN_PARAMETER, f"Unknown filter {key}; this operation has no filters", parameter=key),
    )


def test_two_unknown_filters_are_both_reported(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/available?filter[bogus]=1&filter[other]=2"),
        400,
        item(
            UNKNOWN_PARAMETER,
            f"Unknown filter filter[bogus]; known filters: {AVAILABLE_FILTERS}",
            parameter="filter[bogus]",
        ),
        item(
            UNKNOWN_PARAMETER,
            f"Unknown filter filter[other]; known filters: {AVAILABLE_FILTERS}",
            parameter="filter[other]",
        ),
    )


@pytest.mark.parametrize("key", ["filter[preferred]", "filter[active]"])
@pytest.mark.parametrize("value", ["maybe", ""])
def test_bad_boolean_filter(shared_client: FlaskClient, key: str, value: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?business_uuid={B1}&{key}={value}"),
        400,
        item(INVALID_PARAMETER, f"{key} must be a boolean (true or false), got '{value}'", parameter=key),
    )
    assert_unchanged(shared_client)


BAD_ENUM_CASES = [
    ("filter[categories][]", "pos&filter[categories][]=bogus", 2, "bogus", CATEGORIES),
    ("filter[categories][]", "bogus", 1, "bogus", CATEGORIES),
    ("filter[categories][]", "", 1, "", CATEGORIES),
    ("filter[categories]", "pos,bogus", 2, "bogus", CATEGORIES),
    ("filter[categories]", "POS", 1, "POS", CATEGORIES),
    ("filter[categories]", "pos,,payroll", 2, "", CATEGORIES),
    ("filter[excluded_categories][]", "nope", 1, "nope", CATEGORIES),
    ("filter[excluded_categories]", "payroll,nope", 2, "nope", CATEGORIES),
    ("filter[wholesaler_categories][]", "lemonade", 1, "lemonade", WHOLESALER_TYPES),
    ("filter[wholesaler_categories]", "wine,lemonade", 2, "lemonade", WHOLESALER_TYPES),
]


@pytest.mark.parametrize(
    ("key", "value", "position", "bad", "allowed"),
    BAD_ENUM_CASES,
    ids=[f"{k}={v}" for k, v, *_ in BAD_ENUM_CASES],
)
def test_bad_enum_in_array_filter(
    shared_client: FlaskClient, key: str, value: str, position: int, bad: str, allowed: str
) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?business_uuid={B1}&{key}={value}"),
        400,
        item(
            INVALID_PARAMETER, f"{key} item {position} must be one of {allowed}, got '{bad}'", parameter=key
        ),
    )
    assert_unchanged(shared_client)


def test_bad_category_on_available(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/available?filter[categories]=bogus"),
        400,
        item(
            INVALID_PARAMETER,
            f"filter[categories] item 1 must be one of {CATEGORIES}, got 'bogus'",
            parameter="filter[categories]",
        ),
    )


@pytest.mark.parametrize(
    ("key", "value", "position", "bad"),
    [
        ("filter[country_codes][]", "gb", 1, "gb"),
        ("filter[country_codes][]", "GB&filter[country_codes][]=fr", 2, "fr"),
        ("filter[country_codes]", "gb", 1, "gb"),
        ("filter[country_codes]", "GB,Fr", 2, "Fr"),
        ("filter[country_codes]", "GBR", 1, "GBR"),
    ],
)
def test_bad_country_code(shared_client: FlaskClient, key: str, value: str, position: int, bad: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?business_uuid={B1}&{key}={value}"),
        400,
        item(
            INVALID_PARAMETER,
            f"{key} item {position} must match the pattern ^[A-Z]{{2}}$, got '{bad}'",
            parameter=key,
        ),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize("key", ["filter[status]", "filter[status][]"])
@pytest.mark.parametrize("status", ["unavailable", "discontinued", "bogus"])
def test_status_filter_outside_available_statuses(shared_client: FlaskClient, key: str, status: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/available?{key}={status}"),
        400,
        item(
            INVALID_PARAMETER,
            f"{key} item 1 must be one of 'available', 'coming_soon', got '{status}'",
            parameter=key,
        ),
    )
    assert_unchanged(shared_client)


def test_a_bad_status_after_a_good_one_is_named_by_position(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/available?filter[status][]=available&filter[status][]=bogus"),
        400,
        item(
            INVALID_PARAMETER,
            "filter[status][] item 2 must be one of 'available', 'coming_soon', got 'bogus'",
            parameter="filter[status][]",
        ),
    )


ODD_FILTERS = [
    (
        "filter[country_codes]",
        "\x00\x00",
        "filter[country_codes] item 1 must match the pattern ^[A-Z]{2}$, got '\\x00\\x00'",
    ),
    (
        "filter[country_codes][]",
        "ＧＢ",  # fullwidth letters are not [A-Z]
        "filter[country_codes][] item 1 must match the pattern ^[A-Z]{2}$, got 'ＧＢ'",
    ),
    (
        "filter[country_codes]",
        "GB,\u202eBG",
        "filter[country_codes] item 2 must match the pattern ^[A-Z]{2}$, got '\\u202eBG'",
    ),
    ("filter[categories]", "💥", f"filter[categories] item 1 must be one of {CATEGORIES}, got '💥'"),
    (
        "filter[categories]",
        "pos\x00",
        f"filter[categories] item 1 must be one of {CATEGORIES}, got 'pos\\x00'",
    ),
    (
        "filter[categories][]",
        "a" * 10240,
        f"filter[categories][] item 1 must be one of {CATEGORIES}, got '{'a' * 60}…'",
    ),
    (
        "filter[wholesaler_categories]",
        "wine,نبيذ",
        f"filter[wholesaler_categories] item 2 must be one of {WHOLESALER_TYPES}, got 'نبيذ'",
    ),
    ("filter[preferred]", "ｔｒｕｅ", "filter[preferred] must be a boolean (true or false), got 'ｔｒｕｅ'"),
    ("filter[active]", "true\x00", "filter[active] must be a boolean (true or false), got 'true\\x00'"),
]


@pytest.mark.parametrize(
    ("key", "value", "detail"), ODD_FILTERS, ids=[f"{k}={v[:10]!r}" for k, v, _ in ODD_FILTERS]
)
def test_odd_filter_values_are_400_with_an_escaped_echo(
    shared_client: FlaskClient, key: str, value: str, detail: str
) -> None:
    """Control and bidi characters are escaped in the detail, so a message cannot be visually spoofed."""
    assert_errors(
        get(shared_client, SEARCHABLE["list"], **{key: value}),
        400,
        item(INVALID_PARAMETER, detail, parameter=key),
    )
    assert_unchanged(shared_client)


def test_rtl_status_filter_on_available(shared_client: FlaskClient) -> None:
    assert_errors(
        get(shared_client, SEARCHABLE["available"], **{"filter[status]": "available\u202e"}),
        400,
        item(
            INVALID_PARAMETER,
            "filter[status] item 1 must be one of 'available', 'coming_soon', got 'available\\u202e'",
            parameter="filter[status]",
        ),
    )
    assert_unchanged(shared_client)


# --------------------------------------------------------------------------------------------------
# repeated single-valued parameters


LISTS_OF = {
    "list": "filter[categories], filter[country_codes], filter[excluded_categories], "
    "filter[wholesaler_categories], include",
    "available": "filter[categories], filter[status], include",
}
FORMS = (
    "filter[categories][]=a&filter[categories][]=b, filter[categories][0]=a&filter[categories][1]=b, "
    "filter[categories]=a,b or filter[categories]=a&filter[categories]=b"
)


def _given_twice(name: str, count: int = 2, operation: str = "list") -> dict[str, Any]:
    """The 400 of a repeated single-valued parameter: it names the operation's lists and their forms."""
    if operation in LISTS_OF:
        hint = f"only lists repeat ({LISTS_OF[operation]}), as {FORMS}"
    else:
        hint = "only lists repeat (include), as include=a,b or include=a&include=b"
    detail = f"{name} must be given once, got {count} values; {hint}"
    return item(DUPLICATE_PARAMETER, detail, parameter=name)


DUPLICATE_CASES = [
    (f"{API}?business_uuid={B1}&page=1&page=2", [_given_twice("page")]),
    (f"{API}?business_uuid={B1}&per_page=5&per_page=5", [_given_twice("per_page")]),
    (f"{API}?business_uuid={B1}&business_uuid={B1}", [_given_twice("business_uuid")]),
    # The repeat is reported; the bad second value is not looked at.
    (f"{API}?business_uuid={B1}&business_uuid=%27%20OR%201%3D1%20--", [_given_twice("business_uuid")]),
    (f"{API}?business_uuid={B1}&search=a&search=b", [_given_twice("search")]),
    (
        f"{API}?business_uuid={B1}&filter[preferred]=true&filter[preferred]=false",
        [_given_twice("filter[preferred]")],
    ),
    (f"{API}?business_uuid={B1}&filter[active]=true&filter[active]=false", [_given_twice("filter[active]")]),
    (
        f"{API}?business_uuid={B1}&search=a&search=b&filter[bogus]=1",
        [
            _given_twice("search"),
            item(
                UNKNOWN_PARAMETER,
                f"Unknown filter filter[bogus]; known filters: {LIST_FILTERS}",
                parameter="filter[bogus]",
            ),
        ],
    ),
    (f"{API}/available?page=1&page=1", [_given_twice("page", operation="available")]),
    (f"{API}/available?search=a&search=a&search=a", [_given_twice("search", 3, "available")]),
    (f"{API}/wholesalers?per_page=1&per_page=2", [_given_twice("per_page", operation="wholesalers")]),
    (f"{API}/wholesalers?page=&page=", [_given_twice("page", operation="wholesalers")]),
    (
        f"{API}/wholesalers?page=1&page=2&per_page=1&per_page=2",
        [_given_twice("page", operation="wholesalers"), _given_twice("per_page", operation="wholesalers")],
    ),
]


@pytest.mark.parametrize(
    ("url", "items"), DUPLICATE_CASES, ids=[u.removeprefix(API) for u, _ in DUPLICATE_CASES]
)
def test_repeated_single_valued_parameter(
    shared_client: FlaskClient, url: str, items: list[dict[str, Any]]
) -> None:
    assert_errors(send(shared_client, "GET", url), 400, *items)
    assert_unchanged(shared_client)


def test_repeated_array_parameter_is_not_a_duplicate(shared_client: FlaskClient) -> None:
    response = send(
        shared_client,
        "GET",
        f"{API}?business_uuid={B1}&filter[categories][]=pos&filter[categories][]=payroll",
    )
    assert response.status_code == 200, response.get_data(as_text=True)


REPEATED_LISTS = [
    (
        f"{API}?business_uuid={B1}&filter[categories]=pos&filter[categories]=payroll",
        f"{API}?business_uuid={B1}&filter[categories]=pos,payroll",
    ),
    (
        f"{API}?business_uuid={B1}&filter[categories]=pos,payroll&filter[categories]=wholesaler",
        f"{API}?business_uuid={B1}&filter[categories][]=pos&filter[categories][]=payroll"
        "&filter[categories][]=wholesaler",
    ),
    (
        f"{API}/available?filter[status]=available&filter[status]=coming_soon&filter[categories]=pos",
        f"{API}/available?filter[status][]=available&filter[status][]=coming_soon&filter[categories]=pos",
    ),
    (
        f"{API}/available?filter[categories]=pos&filter[categories]=pos",
        f"{API}/available?filter[categories]=pos",
    ),
    (
        f"{API}/wholesalers?include=users&include=partner_integrations",
        f"{API}/wholesalers?include=users,partner_integrations",
    ),
    (
        f"{API}/{P01}?include=users&include=partner_integrations&include=users",
        f"{API}/{P01}?include=users,partner_integrations",
    ),
]


@pytest.mark.parametrize(
    ("url", "same_as"), REPEATED_LISTS, ids=[u.removeprefix(API) for u, _ in REPEATED_LISTS]
)
def test_a_repeated_comma_list_is_read_as_one_list(
    shared_client: FlaskClient, url: str, same_as: str
) -> None:
    """qs's `arrayFormat: 'repeat'` (`filter[x]=a&filter[x]=b`) is read as `filter[x]=a,b`; paging links
    keep the query as sent."""
    response = send(shared_client, "GET", url)
    assert response.status_code == 200, response.get_data(as_text=True)
    reference = send(shared_client, "GET", same_as).get_json()
    document = response.get_json()
    assert {k: v for k, v in document.items() if k != "links"} == {
        k: v for k, v in reference.items() if k != "links"
    }
    if "links" in document and document["links"].get("self"):
        assert (
            document["links"]["self"].split("?", 1)[1].startswith(url.split("?", 1)[1].split("&per_page")[0])
        )


def test_a_bad_value_of_a_repeated_list_is_named(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/available?filter[status]=available&filter[status]=sold_out"),
        400,
        item(
            INVALID_PARAMETER,
            "filter[status] item 2 must be one of 'available', 'coming_soon', got 'sold_out'",
            parameter="filter[status]",
        ),
    )


# --------------------------------------------------------------------------------------------------
# several errors in one response


def test_several_parameter_errors_at_once(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?business_uuid={B1}&page=0&per_page=101&include=bogus"),
        400,
        item(
            INVALID_PARAMETER,
            "include item 1 must be one of 'users', 'partner_integrations', got 'bogus'",
            parameter="include",
        ),
        item(INVALID_PARAMETER, "page must be at least 1, got 0", parameter="page"),
        item(INVALID_PARAMETER, "per_page must be at most 100, got 101", parameter="per_page"),
    )
    assert_unchanged(shared_client)


def test_missing_and_invalid_parameters_at_once(shared_client: FlaskClient) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}?page=0&per_page=0"),
        400,
        item(MISSING_PARAMETER, "business_uuid is required", parameter="business_uuid"),
        item(INVALID_PARAMETER, "page must be at least 1, got 0", parameter="page"),
        item(INVALID_PARAMETER, "per_page must be at least 1, got 0", parameter="per_page"),
    )


# --------------------------------------------------------------------------------------------------
# Authorization


OPERATION_URLS = [
    ("GET", f"{API}?business_uuid={B1}"),
    ("GET", f"{API}/available"),
    ("GET", f"{API}/wholesalers"),
    ("GET", f"{API}/{P01}"),
    ("POST", f"{API}/{P01}/click_event"),
    ("PATCH", f"{API}/{P08}/connect"),
    ("DELETE", f"{API}/{P02}/connect"),
]
"""Each of the seven operations, on a request that would succeed with the right token."""
AUTH_CASES = [
    ("Bearer nope", "The bearer token does not belong to any user of the data set"),
    ("Bearer ALICE-TOKEN", "The bearer token does not belong to any user of the data set"),
    ("Basic x", "Authorization must be 'Bearer <token>'"),
    ("Basic YWxpY2U6c2VjcmV0", "Authorization must be 'Bearer <token>'"),
    ("Bearer ", "Authorization must be 'Bearer <token>'"),
    ("Bearer", "Authorization must be 'Bearer <token>'"),
    ("alice-token", "Authorization must be 'Bearer <token>'"),
    ("", "Authorization must be 'Bearer <token>'"),
]


def _operation_request(client: FlaskClient, method: str, url: str, headers: dict[str, str]) -> TestResponse:
    if method == "POST":
        return send(client, method, url, CLICK_BYTES, JSON, headers)
    return send(client, method, url, headers=headers)


@pytest.mark.parametrize(
    ("method", "url"), OPERATION_URLS, ids=[f"{m} {u.removeprefix(API) or '/'}" for m, u in OPERATION_URLS]
)
@pytest.mark.parametrize(("header", "detail"), AUTH_CASES, ids=[repr(h) for h, _ in AUTH_CASES])
def test_bad_authorization_is_401(
    shared_client: FlaskClient, method: str, url: str, header: str, detail: str
) -> None:
    assert_errors(
        _operation_request(shared_client, method, url, {"Authorization": header}),
        401,
        item(UNKNOWN_TOKEN, detail, header="Authorization"),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("method", "url"), OPERATION_URLS, ids=[f"{m} {u.removeprefix(API) or '/'}" for m, u in OPERATION_URLS]
)
def test_401_tells_the_client_how_to_authenticate(shared_client: FlaskClient, method: str, url: str) -> None:
    """RFC 9110 15.5.2: a 401 response MUST carry a WWW-Authenticate challenge."""
    response = _operation_request(shared_client, method, url, {"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), dict(response.headers)


@pytest.mark.parametrize("token", ["' OR 1=1 --", "{{7*7}}", "${7*7}", "$(id)"])
def test_injection_in_a_token_is_plain_data(shared_client: FlaskClient, token: str) -> None:
    assert_errors(
        send(shared_client, "GET", f"{API}/{P01}", headers={"Authorization": f"Bearer {token}"}),
        401,
        item(
            UNKNOWN_TOKEN,
            "The bearer token does not belong to any user of the data set",
            header="Authorization",
        ),
    )
    assert_unchanged(shared_client)
