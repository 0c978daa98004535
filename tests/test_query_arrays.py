"""Arrays sent with indices, as `qs.stringify` writes them by default (`filter[categories][0]=pos`):
read as the `[]` form, alone or mixed with the `[]` and comma forms, for every array filter of every
operation; an index that is not 0 to 9999 in decimal digits is a 400 naming the key as sent."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote

import pytest
from flask.testing import FlaskClient
from support import (
    API,
    AVAILABLE_FILTERS,
    B1,
    CATEGORIES,
    INVALID_PARAMETER,
    LIST_FILTERS,
    SPEC,
    UNKNOWN_PARAMETER,
    assert_errors,
    assert_unchanged,
    item,
    make_app,
    send,
)
from werkzeug.datastructures import ImmutableMultiDict

from mockserver.contract.query_arrays import indexed_as_exploded

LIST = f"{API}?business_uuid={B1}&"
AVAILABLE = f"{API}/available?"

ARRAY_FILTERS = [
    pytest.param(LIST, "categories", "pos", "payroll", id="list-categories"),
    pytest.param(LIST, "excluded_categories", "wholesaler", "payments", id="list-excluded_categories"),
    pytest.param(LIST, "wholesaler_categories", "wine", "coffee", id="list-wholesaler_categories"),
    pytest.param(LIST, "country_codes", "GB", "SE", id="list-country_codes"),
    pytest.param(AVAILABLE, "categories", "wholesaler", "payroll", id="available-categories"),
    pytest.param(AVAILABLE, "status", "coming_soon", "coming_soon", id="available-status"),
]
"""Every array filter of every operation, with two values of the default scenario."""

FORMS = {
    "qs-default": "filter%5B{k}%5D%5B0%5D={a}&filter%5B{k}%5D%5B1%5D={b}",
    "qs-encodeValuesOnly": "filter[{k}][0]={a}&filter[{k}][1]={b}",
    "indices-out-of-order": "filter[{k}][1]={b}&filter[{k}][0]={a}",
    "sparse-and-largest-index": "filter[{k}][7]={a}&filter[{k}][9999]={b}",
    "leading-zeros": "filter[{k}][00]={a}&filter[{k}][0001]={b}",
    "mixed-with-brackets": "filter[{k}][]={a}&filter[{k}][0]={b}",
    "mixed-with-comma": "filter[{k}][0]={b}&filter[{k}]={a}",
    "all-three-forms": "filter[{k}][1]={b}&filter[{k}]={a}&filter[{k}][]={a}",
}
"""Query strings selecting values a and b of filter k; the first two are exactly what qs 6.17 writes for
`{filter: {k: [a, b]}}` (by default, and with `encodeValuesOnly: true`)."""
REFERENCE = "filter[{k}][]={a}&filter[{k}][]={b}"


def document(client: FlaskClient, url: str) -> dict[str, Any]:
    response = send(client, "GET", url + "&per_page=100")
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()
    return result


def without_links(document: dict[str, Any]) -> dict[str, Any]:
    """The data, meta and included of a list document; its links echo the query as sent."""
    return {k: v for k, v in document.items() if k != "links"}


# --------------------------------------------------------------------------------------------------
# over HTTP, for every array filter of every operation


@pytest.mark.parametrize(("url", "key", "a", "b"), ARRAY_FILTERS)
def test_the_brackets_form_of_each_filter_discriminates(
    shared_client: FlaskClient, url: str, key: str, a: str, b: str
) -> None:
    """So that the comparisons below would catch an indexed form that is ignored."""
    everything = document(shared_client, url + "page=1")["data"]
    selected = document(shared_client, url + REFERENCE.format(k=key, a=a, b=b))["data"]
    assert 0 < len(selected) < len(everything)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("url", "key", "a", "b"), ARRAY_FILTERS)
def test_indexed_forms_select_what_the_brackets_form_does(
    shared_client: FlaskClient, url: str, key: str, a: str, b: str, form: str
) -> None:
    expected = without_links(document(shared_client, url + REFERENCE.format(k=key, a=a, b=b)))
    assert without_links(document(shared_client, url + FORMS[form].format(k=key, a=a, b=b))) == expected


def test_the_openapi_core_validator_reads_indexed_arrays_too() -> None:
    with make_app(scenario="default", validator="openapi-core").test_client() as client:
        indexed = document(client, LIST + FORMS["qs-default"].format(k="categories", a="pos", b="payroll"))
        brackets = document(client, LIST + REFERENCE.format(k="categories", a="pos", b="payroll"))
    assert without_links(indexed) == without_links(brackets)
    assert indexed["data"]


def test_paging_links_keep_the_indexed_form_and_lead_to_the_same_pages(shared_client: FlaskClient) -> None:
    query = "filter[categories][0]=wholesaler&filter[categories][1]=payroll"
    first = send(shared_client, "GET", f"{AVAILABLE}{query}&per_page=2").get_json()
    assert first["links"]["next"] == f"{API}/available?{query}&page=2&per_page=2"
    second = send(shared_client, "GET", first["links"]["next"]).get_json()
    assert second["meta"] == first["meta"] and second["data"] != first["data"]


def test_the_journal_shows_the_query_as_sent(client: FlaskClient) -> None:
    query = "filter%5Bstatus%5D%5B0%5D=coming_soon&per_page=3"
    assert send(client, "GET", f"{AVAILABLE}{query}").status_code == 200
    (entry,) = send(client, "GET", "/__admin/requests").get_json()["requests"]
    assert entry["query"] == query
    assert entry["status"] == 200


# --------------------------------------------------------------------------------------------------
# what is refused


def _bad_index(key: str, shown: str) -> dict[str, Any]:
    stem = key.rpartition("[")[0]
    return item(
        INVALID_PARAMETER,
        f"{key}: an array index must be 0 to 9999 in decimal digits (as in {stem}[0]), got {shown}",
        parameter=key,
    )


@pytest.mark.parametrize(
    ("index", "shown"),
    [
        ("abc", "'abc'"),
        ("-1", "'-1'"),
        ("+1", "'+1'"),
        ("1.5", "'1.5'"),
        ("0x1", "'0x1'"),
        (" 1", "' 1'"),
        ("\u0663", "'\u0663'"),  # ARABIC-INDIC DIGIT THREE: a digit to str.isdigit, not ASCII
        ("10000", "'10000'"),
        ("0123456789", "'0123456789'"),
        ("9" * 40, repr("9" * 40)),
    ],
)
@pytest.mark.parametrize(("url", "key"), [(LIST, "filter[country_codes]"), (AVAILABLE, "filter[status]")])
def test_a_bad_index_is_a_400_naming_the_key_as_sent(
    shared_client: FlaskClient, url: str, key: str, index: str, shown: str
) -> None:
    value = "GB" if "country" in key else "available"
    query = f"{key}[0]={value}&{key}[{quote(index, safe='')}]={value}"
    assert_errors(send(shared_client, "GET", url + query), 400, _bad_index(f"{key}[{index}]", shown))
    assert_unchanged(shared_client)


def test_bad_indices_and_unknown_filters_are_all_reported(shared_client: FlaskClient) -> None:
    response = send(
        shared_client,
        "GET",
        f"{AVAILABLE}filter[categories][x]=pos&filter[bogus][0]=1&filter[status][12345]=available",
    )
    assert_errors(
        response,
        400,
        _bad_index("filter[categories][x]", "'x'"),
        _bad_index("filter[status][12345]", "'12345'"),
        item(
            UNKNOWN_PARAMETER,
            f"Unknown filter filter[bogus][0]; known filters: {AVAILABLE_FILTERS}",
            parameter="filter[bogus][0]",
        ),
    )


@pytest.mark.parametrize("key", ["filter[preferred][0]", "filter[status][0]", "filter[categories][0][0]"])
def test_an_index_on_what_is_no_array_of_the_operation_is_an_unknown_filter(
    shared_client: FlaskClient, key: str
) -> None:
    assert_errors(
        send(shared_client, "GET", f"{LIST}{key}=true"),
        400,
        item(UNKNOWN_PARAMETER, f"Unknown filter {key}; known filters: {LIST_FILTERS}", parameter=key),
    )


def test_a_bad_value_sent_with_an_index_names_the_array_and_its_position(shared_client: FlaskClient) -> None:
    response = send(shared_client, "GET", f"{LIST}filter[categories][1]=bogus&filter[categories][0]=pos")
    assert_errors(
        response,
        400,
        item(
            INVALID_PARAMETER,
            f"filter[categories][] item 2 must be one of {CATEGORIES}, got 'bogus'",
            parameter="filter[categories][]",
        ),
    )


# --------------------------------------------------------------------------------------------------
# the rewrite itself

ARRAYS = frozenset({"f[a][]", "filter[x][]"})
"""Array parameters are nested names, as every array filter is (`filter[x][]`)."""


def test_every_array_parameter_of_the_spec_has_a_nested_name() -> None:
    """The rewrite skips a query whose keys hold no `][`: an array named `ids[]` (sent as `ids[0]`)
    would need another test there."""
    arrays = {
        name for entry in SPEC.paths for op in entry.operations.values() for name in op.array_parameters
    }
    assert arrays and all(name.startswith("filter[") and name.endswith("][]") for name in arrays), arrays


def rewrite(query: str, arrays: frozenset[str] = ARRAYS) -> list[tuple[str, str]] | None:
    args: ImmutableMultiDict[str, str] = ImmutableMultiDict(parse_qsl(query, keep_blank_values=True))
    rewritten, problems = indexed_as_exploded(args, arrays)
    assert problems == []
    return None if rewritten is None else list(rewritten.items(multi=True))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "per_page=25&search=o&filter[status]=available",
        "f[a][]=1&f[a][]=2&filter[x]=3",
        "f[b][0]=1&filter[y][0]=2&f[a][0]x=3&f[a][0][1]=4",  # no array of the operation, or not an index
    ],
)
def test_a_query_without_indexed_arrays_is_left_alone(query: str) -> None:
    assert rewrite(query) is None


def test_an_operation_without_arrays_leaves_every_key_alone() -> None:
    assert rewrite("f[a][0]=1&f[a][1]=2", frozenset()) is None


def test_values_follow_the_brackets_form_then_the_indices_in_numeric_order() -> None:
    query = "x=1&f[a][2]=c&f[a][10]=d&y=2&f[a][]=z&f[a][1]=b&f[a][]=zz"
    assert rewrite(query) == [
        ("x", "1"),
        ("f[a][]", "z"),
        ("f[a][]", "zz"),
        ("f[a][]", "b"),
        ("f[a][]", "c"),
        ("f[a][]", "d"),
        ("y", "2"),
    ]


def test_equal_indices_keep_the_order_of_their_keys_then_of_their_values() -> None:
    """A query's values are grouped by key (werkzeug's MultiDict): `f[a][0]`'s come before `f[a][00]`'s."""
    assert rewrite("f[a][0]=p&f[a][00]=q&f[a][0]=r") == [("f[a][]", "p"), ("f[a][]", "r"), ("f[a][]", "q")]


def test_each_array_is_rewritten_on_its_own() -> None:
    query = "filter[x][1]=b&f[a][0]=1&filter[x][0]=a&filter[x]=c"
    assert rewrite(query) == [("filter[x][]", "a"), ("filter[x][]", "b"), ("f[a][]", "1"), ("filter[x]", "c")]


def test_a_bad_index_is_reported_and_left_out() -> None:
    args: ImmutableMultiDict[str, str] = ImmutableMultiDict(
        [("f[a][0]", "1"), ("f[a][x]", "2"), ("f[a][]", "3")]
    )
    rewritten, problems = indexed_as_exploded(args, ARRAYS)
    assert rewritten is not None and list(rewritten.items(multi=True)) == [("f[a][]", "3"), ("f[a][]", "1")]
    assert [(p.source, p.kind.code) for p in problems] == [(("parameter", "f[a][x]"), "invalid_parameter")]
