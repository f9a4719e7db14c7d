"""Tables owned by the workflows service."""

from __future__ import annotations
