"""`GET /__admin/pact`: the journal (the session's, or all of it) as a Pact file."""

from __future__ import annotations

from typing import Any

from flask import Response

from mockserver.contract.spec import Spec, get_spec
from mockserver.core.api_errors import INTERNAL_ERROR, ApiError
from mockserver.journal.log import get_journal
from mockserver.state.documents import json_response
from mockserver.state.sessions import session_id_of_request
from mockserver.state.store import current_session

from .export import ExportOptions, export
from .schemas import schema_problems
from .states import data_set_params


def header_parameters(spec: Spec) -> frozenset[str]:
    """The spec's header parameters (lower case), kept in an export besides Accept, Content-Type, Prefer."""
    names = set()
    for item in spec.resolved.get("paths", {}).values():
        operations = [op for op in item.values() if isinstance(op, dict) and "responses" in op]
        for parameter in [
            *item.get("parameters", []),
            *(p for op in operations for p in op.get("parameters", [])),
        ]:
            if parameter.get("in") == "header":
                names.add(str(parameter["name"]).lower())
    return frozenset(names)


def pact_answer(query: dict[str, Any]) -> Response:
    """The Pact of the journal's entries, validated against the Pact schema of its version."""
    spec = get_spec()
    options = ExportOptions(
        consumer=query.get("consumer") or "consumer",
        provider=query.get("provider") or "partners-api",
        version=int(query.get("version") or 4),
        data_set=data_set_params(current_session().source),
        header_parameters=spec.derived("pact_header_parameters", header_parameters),
        testname=query.get("testname"),
    )
    result = export(get_journal().entries(session_id_of_request()), options)
    problems = schema_problems(result.pact, options.version)
    if problems:  # a fault of the export itself: never hand out a file Pact's tools would refuse
        raise ApiError.of(INTERNAL_ERROR, "The Pact breaks the Pact schema: " + "; ".join(problems[:3]))
    return json_response(result.pact)
