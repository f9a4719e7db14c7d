"""Tables owned by the useradm service."""

from __future__ import annotations
