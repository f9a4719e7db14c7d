"""Regular expressions that users supply (RBAC role paths, inventory `$regex`), run with RE2.

RE2 matches in linear time, so no pattern can stall the server the way a backtracking engine can (Python's
`re` holds the GIL while `(a+)+$` runs for hours). It is also the engine of the real Mender services'
Go `regexp`. RE2 has no verbose mode: the `x` flag is applied here by dropping unescaped white space and
`#` comments outside character classes.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol


class Pattern(Protocol):
    pattern: str

    def search(self, text: str) -> object | None: ...

    def fullmatch(self, text: str) -> object | None: ...


class RegexError(ValueError):
    """The pattern does not compile."""


@functools.cache
def _re2() -> tuple[Any, Any]:
    """The RE2 module and its options, imported with the first pattern (1.5 MiB an idle server need not hold)."""
    import re2

    options = re2.Options()
    options.log_errors = False  # a user's bad pattern is an answer (400 / no match), not a server log line
    options.max_mem = 8 << 20
    return re2, options


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Pattern:
    """RE2 pattern (inline flags `(?imsU)` allowed); raises RegexError."""
    re2, options = _re2()
    try:
        return re2.compile(pattern, options=options)
    except (re2.error, TypeError, ValueError, OverflowError) as exc:
        raise RegexError(str(exc)) from None


def try_compile(pattern: str) -> Pattern | None:
    try:
        return compile_pattern(pattern)
    except RegexError:
        return None


def strip_verbose(body: str) -> str:
    """What PCRE's `x` flag ignores: unescaped white space and `#...` comments outside character classes."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(body[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char.isspace():
            index += 1
            continue
        elif char == "#":
            newline = body.find("\n", index)
            index = len(body) if newline < 0 else newline + 1
            continue
        out.append(char)
        index += 1
    return "".join(out)
