"""Tables owned by the tenantadm service."""

from __future__ import annotations
