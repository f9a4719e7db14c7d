"""A configuration file for tests that run the `menderlite` command in-process."""

from __future__ import annotations

from pathlib import Path


def write_test_config(path: Path, shared_keys: dict[str, Path]) -> Path:
    """The session's shared keys (no key generation per test) and a cheap bcrypt cost."""
    path.write_text(
        "[keys]\n"
        f'jwt_private_key = "{shared_keys["jwt_private_key"]}"\n'
        f'url_secret = "{shared_keys["url_secret"]}"\n'
        "[useradm]\nbcrypt_rounds = 4\n"
    )
    return path
