"""Tables owned by the devauth service."""

from __future__ import annotations
