"""The public download of artifact files through signed links (no Authorization header: devices follow the
link as given). The query carries the expiry, the tenant and an HMAC over both and the path."""

from __future__ import annotations

from aiohttp import web

from menderlite.db import utcnow
from menderlite.deployments.artifacts import (
    ARTIFACT_CONTENT_TYPE,
    DOWNLOAD_PATH,
    canonical_uuid,
)
from menderlite.deployments.routes_management import artifacts_service
from menderlite.tokens import TokenError, TokenExpired
from menderlite.web import ApiError, access
from menderlite.web.errors import FileResponse

routes = web.RouteTableDef()
CHUNK = 1 << 20


@routes.get(DOWNLOAD_PATH)
@access("public")
async def download_artifact(request: web.Request) -> web.StreamResponse:
    """Served with sendfile; Range (206/416), If-Modified-Since and If-Unmodified-Since come from FileResponse
    (its error answers in the JSON error shape). A file deleted after the check above answers a JSON 404."""
    service = artifacts_service(request)
    try:
        tenant_id = service.ctx.keys.check_url_params("GET", request.path, dict(request.query), utcnow())
    except TokenExpired:
        raise ApiError(403, "URL expired") from None
    except TokenError:
        raise ApiError(403, "invalid download link signature") from None
    artifact_id = canonical_uuid(request.match_info["id"])
    if artifact_id is None or artifact_id != request.match_info["id"]:
        raise ApiError(404, "Resource not found")
    download = await service.file_for_download(tenant_id, artifact_id)
    return FileResponse(
        download.path,
        chunk_size=CHUNK,
        headers={
            "Content-Type": ARTIFACT_CONTENT_TYPE,
            "Content-Disposition": f'attachment; filename="{download.file_name}"',
        },
    )
