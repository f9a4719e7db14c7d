"""The [useradm] settings this service adds: bcrypt cost and the password-reset link template."""

from __future__ import annotations

import pytest

from menderlite.config import ConfigError, load


def test_defaults() -> None:
    settings = load(environ={})
    assert settings.useradm.bcrypt_rounds == 12
    assert settings.useradm.jwt_issuer == "mender.useradm"
    assert settings.useradm.jwt_expiration_seconds == 604800
    assert settings.useradm.password_reset_expiration_seconds == 3600


@pytest.mark.parametrize("rounds", ["3", "32"])
def test_bcrypt_rounds_bounds(rounds: str) -> None:
    with pytest.raises(ConfigError, match="useradm.bcrypt_rounds: must be between 4 and 31"):
        load(environ={"MENDERLITE_USERADM_BCRYPT_ROUNDS": rounds})


def test_password_reset_url_needs_the_secret_placeholder() -> None:
    with pytest.raises(ConfigError, match=r"useradm.password_reset_url: must contain \{secret\}"):
        load(environ={"MENDERLITE_USERADM_PASSWORD_RESET_URL": "https://gui.example.com/reset"})
    settings = load(environ={"MENDERLITE_USERADM_PASSWORD_RESET_URL": "https://gui.example.com/reset/{secret}"})
    assert settings.useradm.password_reset_url == "https://gui.example.com/reset/{secret}"
