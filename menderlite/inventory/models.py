"""Tables owned by the inventory service."""

from __future__ import annotations
