"""Schemathesis against the OpenAPI document a real node serves: every operation, with generated valid and invalid
requests, signed in (the conftest's World points most of them at real rooms, members, messages and meetings). No
answer may be a server error, and every answer must be one the document lists for the operation, with its content
type, its required headers and a body that fits its schema."""

import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import REQUEST_TIMEOUT, record, served_schema

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = served_schema()
session = requests.Session()


@schema.parametrize()
def test_api(case, world):
    world.aim(case)
    response = case.call(session=session, timeout=REQUEST_TIMEOUT)
    record(case, response)
    case.validate_response(response, checks=CHECKS)
