"""Password rules and bcrypt hashing; the slow work runs in a thread so the event loop never blocks."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import bcrypt

from menderlite.web.errors import ApiError

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt >= 5: refuses) anything longer
T = TypeVar("T")
BCRYPT_HASH = re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}")


def validate_password(password: object) -> str:
    """The password if acceptable, else the catalogue's 400/422 ApiError."""
    if password is None or password == "":
        raise ApiError(400, "password: non zero value required")
    if not isinstance(password, str):
        raise ApiError(400, "password: must be a string")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ApiError(422, "password too short")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise ApiError(422, f"password too long: at most {MAX_PASSWORD_BYTES} bytes")
    return password


def is_bcrypt_hash(value: object) -> bool:
    return isinstance(value, str) and BCRYPT_HASH.fullmatch(value) is not None


def _hash(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode("ascii")


def _check(password: str, hashed: str) -> bool:
    try:
        # Hashes imported from older systems may stem from a longer password that was truncated at 72 bytes.
        return bcrypt.checkpw(password.encode()[:MAX_PASSWORD_BYTES], hashed.encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


class PasswordHasher:
    """bcrypt in its own small thread pool: the event loop never blocks, and a burst of logins uses at most
    `workers` cores and never crowds out the default executor (file I/O of downloads and uploads)."""

    def __init__(self, rounds: int, workers: int = 2) -> None:
        self.rounds = rounds
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bcrypt")
        self._dummy_hash: str | None = None

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def hash(self, password: str) -> str:
        return await self._run(_hash, password, self.rounds)

    async def check(self, password: str, hashed: str) -> bool:
        return await self._run(_check, password, hashed)

    def close(self) -> None:
        self._executor.shutdown(wait=False)

    async def waste_time(self, password: str) -> None:
        """As much work as a real check: an unknown email must not answer faster than a known one."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("not a password of anyone")
        await self.check(password, self._dummy_hash)
