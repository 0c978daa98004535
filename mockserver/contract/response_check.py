"""The response self-check (`--validate-responses`): a response that breaks the spec becomes a 500."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

from mockserver.contract.compiled import UNPARSED
from mockserver.contract.spec import Operation, get_spec
from mockserver.contract.validation import RequestAsMethod, compiled_operations, schema_errors, valid_request
from mockserver.contract.wording import json_pointer
from mockserver.core.api_errors import RESPONSE_VALIDATION_FAILED, ApiError, render_error
from mockserver.core.context import current_flask_app, current_globals, current_request


def response_violation(response: Response, operation: Operation | None = None) -> str | None:
    """Why the response (to the current request, of `operation`: the validated one by default) breaks
    the spec, or None when it conforms.

    The compiled checks clear a conforming response in microseconds; anything they cannot clear is
    judged, and worded, by openapi-core.
    """
    request = current_request()
    g = current_globals()
    app = current_flask_app()
    compiled = compiled_operations(app)
    operation = operation or valid_request().operation
    if compiled is not None:
        responses = compiled[(operation.path_template, operation.method)].responses
        document = g.get("response_document", UNPARSED)
        if responses.surely_conforms(response.status_code, response.mimetype, response.get_data(), document):
            return None
    method = "get" if request.method == "HEAD" else request.method.lower()
    openapi = get_spec().openapi
    result = openapi.unmarshal_response(RequestAsMethod(request, method), WerkzeugOpenAPIResponse(response))
    if not result.errors:
        return None
    error = next(iter(result.errors))
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue):
        details = [
            f"{json_pointer(list(se.absolute_path)) or '/'}: {se.message}" for se in schema_errors(cause)
        ]
        return "; ".join(details)
    return str(error)


def response_check_hook(app: Flask) -> Callable[[Response], Response]:
    """The after-request hook that checks each response to a validated request, and replaces a
    violating one with a 500 naming it."""

    def check_response(response: Response) -> Response:
        request = current_request()
        g = current_globals()
        if "valid_request" not in g or request.method == "HEAD" or request.path.startswith("/__admin"):
            return response
        if g.get("contract_violation"):  # a rule that breaks the contract on purpose, or a fault
            return response
        violation = response_violation(response)
        if violation is None:
            return response
        app.logger.error("response breaks the spec: %s", violation)
        detail = f"{request.method} {request.path} answered {response.status_code}: {violation}"
        return render_error(ApiError.of(RESPONSE_VALIDATION_FAILED, detail))

    return check_response
