"""The password of a URI's userinfo is redacted in what job results show, even in URIs too broken to parse."""

from __future__ import annotations

import pytest

from menderlite.workflows.tasks import redacted_uri


@pytest.mark.parametrize(
    "uri, shown",
    [
        ("http://u:pw@h/a", "http://u:[redacted]@h/a"),
        ("https://u:p@w@h:8443/a?b=c@d#e", "https://u:[redacted]@h:8443/a?b=c@d#e"),
        ("http://:pw@h", "http://:[redacted]@h"),
        ("http://u:pw@127.0.0.1:99999/x", "http://u:[redacted]@127.0.0.1:99999/x"),
        ("http://u:pw@[::1/x", "http://u:[redacted]@[::1/x"),
        ("ftp://u:pw@h/", "ftp://u:[redacted]@h/"),
        ("http://u@h/", "http://u@h/"),
        ("http://h/a:b@c", "http://h/a:b@c"),
        ("not a uri", "not a uri"),
    ],
)
def test_redacted_uri(uri: str, shown: str) -> None:
    assert redacted_uri(uri) == shown
