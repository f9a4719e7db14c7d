"""HTTP plumbing shared by every service: errors, request ids, JSON bodies, paging, guards, CORS, health."""

from menderlite.web.errors import ApiError, json_response
from menderlite.web.guards import Identity, access, identity_of
from menderlite.web.json_body import read_json, read_json_object
from menderlite.web.paging import Page, paging_headers, parse_paging

__all__ = [
    "ApiError",
    "Identity",
    "Page",
    "access",
    "identity_of",
    "json_response",
    "paging_headers",
    "parse_paging",
    "read_json",
    "read_json_object",
]
