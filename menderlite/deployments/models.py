"""Tables owned by the deployments service."""

from __future__ import annotations
