"""The artifact service layer: upload, storage, listing, releases, download links, storage limits and the
background generation of single-file artifacts. No aiohttp here: routes hand over plain values and an async
iterator of upload chunks.

Upload pipeline (memory stays flat whatever the size):
  1. early refusal from the declared size (form field `size`, Content-Length) against the maximum and the
     tenant's storage limit;
  2. chunks streamed into a temporary file of the blob store while hashed, with the limits enforced as the
     bytes arrive;
  3. the file parsed from disk in a worker thread (`menderlite.artifact.read_artifact`: checksums against the
     manifest, signature when keys are configured);
  4. in ONE write transaction: uniqueness (name + depends combinations), storage limit, the row, and as the
     last step the atomic move of the file into place. A failure anywhere leaves neither row nor file.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import itertools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlencode

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from menderlite.artifact import Artifact as ParsedArtifact
from menderlite.artifact import ArtifactError, OperationCancelled, load_verify_keys
from menderlite.config import ConfigError
from menderlite.db import after_commit, utcnow
from menderlite.deployments import models
from menderlite.events import TenantCreated
from menderlite.timeutil import rfc3339
from menderlite.web.errors import ApiError

if TYPE_CHECKING:
    from menderlite.context import Context

log = logging.getLogger(__name__)

DOWNLOAD_PATH = "/download/{id}"  # public; the link's query carries its own HMAC signature
ARTIFACT_CONTENT_TYPE = "application/vnd.mender-artifact"
CHUNK = 1 << 20
MAX_DEPENDS_COMBINATIONS = 1000
MAX_DESCRIPTION = 4096
MAX_NAME = 4096
UNPACKED_FACTOR = 16  # a payload may unpack to 16x the artifact's maximum size (compressed disk images)
GENERATE_TYPES = {"single_file": "single-file"}
_SAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9._+-]")
# The blobs this service writes (see `storage_key`): `<tenant>/<artifact id>` and `<tenant>/<artifact id>.raw`.
_OWN_BLOB = re.compile(r"[^/]+/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:\.raw)?")

MSG_TOO_LARGE = "Artifact file too large"
MSG_STORAGE_LIMIT = "storage limit exceeded"
MSG_NO_SPACE = "not enough disk space to store the artifact"
MSG_CONFLICT = "An artifact with the same name has conflicting depends"
MSG_NOT_FOUND = "Resource not found"


# --- values handed out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactRecord:
    """An artifact as other services and the routes see it."""

    id: str
    tenant_id: str
    name: str
    description: str
    device_types_compatible: list[str]
    info_format: str
    info_version: int
    signed: bool
    updates: list[dict[str, Any]]
    provides: dict[str, str]
    depends: dict[str, Any]
    clears_provides: list[str]
    size: int
    modified: datetime
    created: datetime

    @classmethod
    def from_row(cls, row: models.Artifact) -> ArtifactRecord:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            description=row.description,
            device_types_compatible=list(row.device_types),
            info_format=row.info_format,
            info_version=row.info_version,
            signed=row.signed,
            updates=list(row.updates),
            provides=dict(row.provides),
            depends=dict(row.depends),
            clears_provides=list(row.clears_provides),
            size=row.size,
            modified=row.modified,
            created=row.created,
        )

    def to_api(self) -> dict[str, Any]:
        """The reference's Artifact document. `meta_data` is null when a payload has none and a one-element
        list holding the payload's meta-data object otherwise: mender-cli 1.9 decodes it as an array and fails
        on an object (CLIENTS.md §5)."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "device_types_compatible": self.device_types_compatible,
            "info": {"format": self.info_format, "version": self.info_version},
            "signed": self.signed,
            "updates": [
                {
                    "type_info": update["type_info"],
                    "files": update["files"],
                    "meta_data": [update["meta_data"]] if update.get("meta_data") is not None else None,
                }
                for update in self.updates
            ],
            "artifact_provides": self.provides,
            "artifact_depends": self.depends,
            "size": self.size,
            "modified": rfc3339(self.modified),
        }


@dataclass(frozen=True)
class UploadMeta:
    description: str = ""
    declared_size: int | None = None  # the deprecated `size` form field
    content_length: int | None = None  # of the whole request, when the client sent one
    artifact_id: str | None = None  # internal upload only


@dataclass(frozen=True)
class GenerateRequest:
    name: str
    description: str
    device_types: list[str]
    type: str
    args: dict[str, Any]
    file_name: str


@dataclass(frozen=True)
class DownloadFile:
    path: Path
    file_name: str  # for Content-Disposition


@dataclass(frozen=True)
class StorageUsage:
    limit: int
    usage: int


@dataclass(frozen=True)
class _Received:
    path: Path
    size: int
    sha256: str


# --- pure helpers --------------------------------------------------------------------------------------


def storage_key(tenant_id: str, artifact_id: str, suffix: str = "") -> str:
    return f"{tenant_id or 'default'}/{artifact_id}{suffix}"


def canonical_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        return None


def depends_combinations(depends: dict[str, Any]) -> list[str]:
    """Canonical JSON of every combination of the depends values (list values expanded, keys sorted)."""
    keys = sorted(key for key, value in depends.items() if value not in ([], None))
    value_lists = [depends[key] if isinstance(depends[key], list) else [depends[key]] for key in keys]
    count = 1
    for values in value_lists:
        count *= len(values)
    if count > MAX_DEPENDS_COMBINATIONS:
        raise ApiError(400, f"the artifact's depends have too many combinations ({count}, at most {MAX_DEPENDS_COMBINATIONS})")
    return [
        json.dumps(dict(zip(keys, combination)), sort_keys=True, separators=(",", ":"))
        for combination in itertools.product(*value_lists)
    ]


def depends_key_hash(name: str, combination: str) -> str:
    return hashlib.sha256(f"{name}\0{combination}".encode()).hexdigest()


def read_artifact(*args: Any, **kwargs: Any) -> ParsedArtifact:
    """The artifact reader (tarfile, lzma, zstandard), imported on the first upload: a server that is not
    parsing one does not hold it in memory (see menderlite/artifact/__init__.py)."""
    from menderlite.artifact.reader import read_artifact as read

    return read(*args, **kwargs)


def write_single_file_artifact(*args: Any, **kwargs: Any) -> None:
    """The artifact writer, imported on first use like the reader."""
    from menderlite.artifact.writer import write_single_file_artifact as write

    write(*args, **kwargs)


def updates_of(parsed: ParsedArtifact) -> list[dict[str, Any]]:
    return [
        {
            "type_info": {"type": payload.type},
            "files": [
                {"name": f.name, "checksum": f.checksum, "size": f.size, "date": rfc3339(f.date)}
                for f in payload.files
            ],
            "meta_data": payload.meta_data,
        }
        for payload in parsed.payloads
    ]


def safe_file_name(name: str) -> str:
    """A file name for Content-Disposition and payloads: no path, no quotes, no control characters."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    cleaned = _SAFE_FILE_NAME.sub("_", base)[:200].lstrip(".")
    return cleaned or "file"


def _has_control_characters(text: str) -> bool:
    return any(ord(character) < 32 or ord(character) == 127 for character in text)


def _write_chunk(handle: BinaryIO, digest: Any, chunk: bytes) -> None:
    digest.update(chunk)
    handle.write(chunk)


def _finish_file(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())  # before the DB lock: the commit's own fsync is then quick
    handle.close()


def _file_sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        os.fsync(handle.fileno())
    return size, digest.hexdigest()


def _no_space(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


# --- the service ---------------------------------------------------------------------------------------


class ArtifactsService:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.deployments
        try:
            self.verify_keys = load_verify_keys(self.settings.artifact_verify_keys)
        except ValueError as exc:
            raise ConfigError(f"deployments.artifact_verify_keys: {exc}") from None
        self._cancel = threading.Event()
        self._queue: asyncio.Queue[tuple[str, str] | None] | None = None
        self._worker: asyncio.Task[None] | None = None
        ctx.events.subscribe(TenantCreated, self._on_tenant_created)

    # --- queries ---------------------------------------------------------------------------------------

    async def list(self, tenant_id: str) -> list[ArtifactRecord]:
        async with self.ctx.db.read() as session:
            rows = await session.scalars(
                select(models.Artifact)
                .where(models.Artifact.tenant_id == tenant_id)
                .order_by(models.Artifact.created, models.Artifact.id)
            )
            return [ArtifactRecord.from_row(row) for row in rows]

    async def get(self, tenant_id: str, artifact_id: str) -> ArtifactRecord | None:
        async with self.ctx.db.read() as session:
            row = await self._row(session, tenant_id, artifact_id)
            return ArtifactRecord.from_row(row) if row else None

    async def artifacts_named(self, tenant_id: str, name: str) -> list[ArtifactRecord]:
        """All artifacts of a release (same artifact name), oldest first."""
        async with self.ctx.db.read() as session:
            rows = await session.scalars(
                select(models.Artifact)
                .where(models.Artifact.tenant_id == tenant_id, models.Artifact.name == name)
                .order_by(models.Artifact.created, models.Artifact.id)
            )
            return [ArtifactRecord.from_row(row) for row in rows]

    async def artifacts_by_ids(self, tenant_id: str, artifact_ids: Sequence[str]) -> list[ArtifactRecord]:
        """The artifacts among `artifact_ids` that still exist (in no particular order)."""
        if not artifact_ids:
            return []
        async with self.ctx.db.read() as session:
            rows = await session.scalars(
                select(models.Artifact).where(
                    models.Artifact.tenant_id == tenant_id, models.Artifact.id.in_(list(artifact_ids))
                )
            )
            return [ArtifactRecord.from_row(row) for row in rows]

    async def releases(self, tenant_id: str, name: str | None = None) -> list[tuple[str, list[ArtifactRecord]]]:
        """Artifacts grouped by name, names descending; `name` filters on the exact name."""
        query = select(models.Artifact).where(models.Artifact.tenant_id == tenant_id)
        if name is not None:
            query = query.where(models.Artifact.name == name)
        query = query.order_by(models.Artifact.name.desc(), models.Artifact.created, models.Artifact.id)
        async with self.ctx.db.read() as session:
            rows = await session.scalars(query)
            records = [ArtifactRecord.from_row(row) for row in rows]
        return [(key, list(group)) for key, group in itertools.groupby(records, key=lambda record: record.name)]

    @staticmethod
    async def _row(session: AsyncSession, tenant_id: str, artifact_id: str) -> models.Artifact | None:
        return await session.scalar(
            select(models.Artifact).where(models.Artifact.tenant_id == tenant_id, models.Artifact.id == artifact_id)
        )

    # --- edit and delete -------------------------------------------------------------------------------

    async def update_description(self, tenant_id: str, artifact_id: str, description: str) -> None:
        if len(description) > MAX_DESCRIPTION:
            raise ApiError(400, f"description: must be at most {MAX_DESCRIPTION} characters")
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id, artifact_id)
            if row is None:
                raise ApiError(404, MSG_NOT_FOUND)
            # In the transaction: a deployment created meanwhile cannot slip in between check and edit.
            if await self.ctx.deployments.artifact_in_use(tenant_id, artifact_id, unfinished_only=False, session=session):
                raise ApiError(422, "Image has already been used in deployment")
            row.description = description
            row.modified = utcnow()

    async def delete(self, tenant_id: str, artifact_id: str) -> None:
        if await self.get(tenant_id, artifact_id) is None:
            raise ApiError(404, MSG_NOT_FOUND)
        if await self.ctx.deployments.artifact_in_use(tenant_id, artifact_id, unfinished_only=True):
            raise ApiError(409, "Artifact is used in active deployment")
        async with self.ctx.db.write() as session:
            row = await self._row(session, tenant_id, artifact_id)
            if row is None:
                raise ApiError(404, MSG_NOT_FOUND)
            # Again inside the transaction: a deployment created since the check above must keep its artifact.
            if await self.ctx.deployments.artifact_in_use(tenant_id, artifact_id, unfinished_only=True, session=session):
                raise ApiError(409, "Artifact is used in active deployment")
            key = row.storage_key
            await session.execute(
                delete(models.ArtifactDependsKey).where(
                    models.ArtifactDependsKey.tenant_id == tenant_id, models.ArtifactDependsKey.artifact_id == artifact_id
                )
            )
            await session.delete(row)
            after_commit(session, lambda: self.ctx.storage.delete(key))

    # --- download links --------------------------------------------------------------------------------

    def download_link(self, tenant_id: str, artifact_id: str, base_url: str, lifetime_seconds: int) -> tuple[str, datetime]:
        expire = utcnow().replace(microsecond=0) + timedelta(seconds=lifetime_seconds)
        path = DOWNLOAD_PATH.format(id=artifact_id)
        params = self.ctx.keys.sign_url_params("GET", path, expire, tenant_id)
        return f"{base_url.rstrip('/')}{path}?{urlencode(params)}", expire

    def management_download_link(self, tenant_id: str, artifact_id: str, base_url: str) -> tuple[str, datetime]:
        return self.download_link(tenant_id, artifact_id, base_url, self.settings.management_link_expiration_seconds)

    def device_download_link(self, tenant_id: str, artifact_id: str, base_url: str) -> tuple[str, datetime]:
        """(uri, expire) of a link a device can GET without credentials, valid for the device lifetime."""
        return self.download_link(tenant_id, artifact_id, base_url, self.settings.device_link_expiration_seconds)

    async def file_for_download(self, tenant_id: str, artifact_id: str) -> DownloadFile:
        record_key = None
        async with self.ctx.db.read() as session:
            row = await self._row(session, tenant_id, artifact_id)
            if row is not None:
                record_key, name = row.storage_key, row.name
        if record_key is None:
            raise ApiError(404, MSG_NOT_FOUND)
        path = self.ctx.storage.local_path(record_key)
        if path is None or not await asyncio.to_thread(path.is_file):
            raise ApiError(404, MSG_NOT_FOUND)
        return DownloadFile(path=path, file_name=f"{safe_file_name(name)}.mender")

    # --- storage limits and tenants --------------------------------------------------------------------

    async def storage_usage(self, tenant_id: str) -> StorageUsage:
        async with self.ctx.db.read() as session:
            return StorageUsage(limit=await self._limit(session, tenant_id), usage=await self._usage(session, tenant_id))

    async def set_storage_limit(self, tenant_id: str, limit: int) -> None:
        if limit < 0:
            raise ApiError(400, "limit: must not be negative")
        async with self.ctx.db.write() as session:
            tenant = await session.get(models.DeploymentsTenant, tenant_id)
            if tenant is None:
                session.add(models.DeploymentsTenant(tenant_id=tenant_id, storage_limit=limit))
            else:
                tenant.storage_limit = limit

    async def provision_tenant(self, tenant_id: str) -> None:
        async with self.ctx.db.write() as session:
            await self._ensure_tenant(session, tenant_id)

    async def _on_tenant_created(self, event: TenantCreated, session: AsyncSession) -> None:
        await self._ensure_tenant(session, event.tenant_id)

    @staticmethod
    async def _ensure_tenant(session: AsyncSession, tenant_id: str) -> None:
        if await session.get(models.DeploymentsTenant, tenant_id) is None:
            session.add(models.DeploymentsTenant(tenant_id=tenant_id))

    async def _limit(self, session: AsyncSession, tenant_id: str) -> int:
        configured = await session.scalar(
            select(models.DeploymentsTenant.storage_limit).where(models.DeploymentsTenant.tenant_id == tenant_id)
        )
        if configured is not None:
            return configured
        return self.settings.storage_limit_bytes if tenant_id == "" else 0

    @staticmethod
    async def _usage(session: AsyncSession, tenant_id: str) -> int:
        total = await session.scalar(
            select(func.coalesce(func.sum(models.Artifact.size), 0)).where(models.Artifact.tenant_id == tenant_id)
        )
        return int(total or 0)

    # --- upload ----------------------------------------------------------------------------------------

    async def upload(self, tenant_id: str, meta: UploadMeta, chunks: AsyncIterator[bytes]) -> str:
        """Store an uploaded artifact; returns its id. Raises ApiError (4xx) for anything the client caused."""
        artifact_id = meta.artifact_id or str(uuid.uuid4())
        if len(meta.description) > MAX_DESCRIPTION:
            raise ApiError(400, f"description: must be at most {MAX_DESCRIPTION} characters")
        if meta.artifact_id and await self.get(tenant_id, artifact_id) is not None:
            raise ApiError(409, "An artifact with the same ID already exists")
        started = time.monotonic()
        received = await self._receive_checked(tenant_id, meta.declared_size, meta.content_length, chunks)
        received_at = time.monotonic()
        try:
            parsed = await self._parse(received.path)
            parsed_at = time.monotonic()
            await self._store(tenant_id, artifact_id, parsed, received, meta.description)
        finally:
            await asyncio.to_thread(received.path.unlink, missing_ok=True)
        log.info(
            "stored artifact %s (%s, %d bytes) for tenant %r: received in %.2fs, checked in %.2fs, stored in %.2fs",
            artifact_id, parsed.name, received.size, tenant_id,
            received_at - started, parsed_at - received_at, time.monotonic() - parsed_at,
        )
        return artifact_id

    async def _receive_checked(
        self, tenant_id: str, declared_size: int | None, content_length: int | None, chunks: AsyncIterator[bytes]
    ) -> _Received:
        maximum = self.settings.max_artifact_bytes
        if declared_size is not None and declared_size > maximum:
            raise ApiError(400, MSG_TOO_LARGE)
        # Content-Length covers the other form parts too: allow 1 MiB for them.
        if content_length is not None and content_length > maximum + (1 << 20):
            raise ApiError(400, MSG_TOO_LARGE)
        usage = await self.storage_usage(tenant_id)
        room = usage.limit - usage.usage if usage.limit > 0 else None
        if room is not None and (
            room <= 0
            or (declared_size is not None and declared_size > room)
            or (content_length is not None and content_length > room + (1 << 20))
        ):
            raise ApiError(422, MSG_STORAGE_LIMIT)
        cap, message = (maximum, (400, MSG_TOO_LARGE))
        if room is not None and room < maximum:
            cap, message = room, (422, MSG_STORAGE_LIMIT)
        return await self._receive(chunks, cap, ApiError(*message))

    async def _receive(self, chunks: AsyncIterator[bytes], cap: int, too_large: ApiError) -> _Received:
        """Stream chunks into a temporary file of the blob store while hashing; refuse past `cap` bytes."""
        path = self.ctx.storage.new_temp_path()
        digest = hashlib.sha256()
        size = 0
        pending = bytearray()
        handle: BinaryIO = open(path, "wb")  # noqa: SIM115 - a quick local syscall; closed below on every path
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > cap:
                    raise too_large
                pending += chunk
                if len(pending) >= CHUNK:
                    await asyncio.to_thread(_write_chunk, handle, digest, bytes(pending))
                    pending.clear()
            if pending:
                await asyncio.to_thread(_write_chunk, handle, digest, bytes(pending))
            await asyncio.to_thread(_finish_file, handle)
        except BaseException as exc:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            if isinstance(exc, OSError) and _no_space(exc):
                raise ApiError(400, MSG_NO_SPACE) from None
            raise
        return _Received(path=path, size=size, sha256=digest.hexdigest())

    async def _parse(self, path: Path) -> ParsedArtifact:
        try:
            return await asyncio.to_thread(
                read_artifact,
                path,
                verify_keys=self.verify_keys,
                max_unpacked_bytes=self.settings.max_artifact_bytes * UNPACKED_FACTOR,
                cancel=self._cancel,
            )
        except ArtifactError as exc:
            raise ApiError(400, str(exc)) from None

    async def _store(
        self,
        tenant_id: str,
        artifact_id: str,
        parsed: ParsedArtifact,
        received: _Received,
        description: str,
        also: Callable[[AsyncSession], Awaitable[None]] | None = None,
    ) -> None:
        """The row and the file, together: the file is moved into place as the transaction's last step."""
        if len(parsed.name) > MAX_NAME:
            raise ApiError(400, f"artifact name is longer than {MAX_NAME} characters")
        combinations = depends_combinations(parsed.depends)
        hashes = {depends_key_hash(parsed.name, combination): combination for combination in combinations}
        key = storage_key(tenant_id, artifact_id)
        committed = False
        now = utcnow()
        try:
            async with self.ctx.db.write() as session:
                await self._check_conflict(session, tenant_id, hashes)
                limit = await self._limit(session, tenant_id)
                if limit > 0 and await self._usage(session, tenant_id) + received.size > limit:
                    raise ApiError(422, MSG_STORAGE_LIMIT)
                if await session.get(models.Artifact, artifact_id) is not None:
                    raise ApiError(409, "An artifact with the same ID already exists")
                session.add(
                    models.Artifact(
                        id=artifact_id,
                        tenant_id=tenant_id,
                        name=parsed.name,
                        description=description,
                        device_types=list(parsed.device_types),
                        info_format=parsed.format,
                        info_version=parsed.version,
                        signed=parsed.signed,
                        updates=updates_of(parsed),
                        provides=parsed.provides,
                        depends=parsed.depends,
                        clears_provides=list(parsed.clears_provides),
                        size=received.size,
                        sha256=received.sha256,
                        storage_key=key,
                        created=now,
                        modified=now,
                    )
                )
                await session.flush()
                session.add_all(
                    models.ArtifactDependsKey(artifact_id=artifact_id, key_hash=key_hash, tenant_id=tenant_id, combination=combination)
                    for key_hash, combination in hashes.items()
                )
                await session.flush()
                if also is not None:
                    await also(session)
                await self.ctx.storage.commit(received.path, key)
                committed = True
        except IntegrityError:
            raise ApiError(409, f"{MSG_CONFLICT}: {next(iter(hashes.values()), '{}')}") from None
        except BaseException as exc:
            # The file may be in place although the transaction failed (or we were cancelled while it moved):
            # take it back out so that no file exists without its row.
            if committed or not received.path.exists():
                await self.ctx.storage.delete(key)
            if isinstance(exc, OSError) and _no_space(exc):
                raise ApiError(400, MSG_NO_SPACE) from None
            raise

    @staticmethod
    async def _check_conflict(session: AsyncSession, tenant_id: str, hashes: dict[str, str]) -> None:
        if not hashes:
            return
        clash = await session.scalar(
            select(models.ArtifactDependsKey.combination)
            .where(models.ArtifactDependsKey.tenant_id == tenant_id, models.ArtifactDependsKey.key_hash.in_(list(hashes)))
            .limit(1)
        )
        if clash is not None:
            raise ApiError(409, f"{MSG_CONFLICT}: {clash}")

    # --- generate --------------------------------------------------------------------------------------

    async def generate(
        self, tenant_id: str, request: GenerateRequest, chunks: AsyncIterator[bytes] | None, declared_size: int | None = None
    ) -> str:
        """Accept a raw file to build a single-file artifact from, in the background; returns the future id.

        The request is durable: its row and the raw file are committed together, and pending builds resume
        at start-up. The built artifact goes through the same checks and store step as an upload."""
        self._validate_generate_fields(request)
        if chunks is None:
            raise ApiError(400, "request does not contain the artifact file")
        self._validate_generate_args(request)
        await self._check_generate_unique(tenant_id, request)
        artifact_id = str(uuid.uuid4())
        received = await self._receive_checked(tenant_id, declared_size, None, chunks)
        raw_key = storage_key(tenant_id, artifact_id, ".raw")
        committed = False
        try:
            async with self.ctx.db.write() as session:
                session.add(
                    models.ArtifactGeneration(
                        id=artifact_id,
                        tenant_id=tenant_id,
                        name=request.name,
                        description=request.description,
                        device_types=request.device_types,
                        type=request.type,
                        args=request.args,
                        file_name=request.file_name,
                        raw_key=raw_key,
                        raw_size=received.size,
                    )
                )
                await session.flush()
                await self.ctx.storage.commit(received.path, raw_key)
                committed = True
        except BaseException:
            if committed:
                await self.ctx.storage.delete(raw_key)
            await asyncio.to_thread(received.path.unlink, missing_ok=True)
            raise
        self._submit(tenant_id, artifact_id)
        return artifact_id

    @staticmethod
    def _validate_generate_fields(request: GenerateRequest) -> None:
        if not request.name:
            raise ApiError(400, "request does not contain the name of the artifact")
        if len(request.name) > MAX_NAME:
            raise ApiError(400, f"name: must be at most {MAX_NAME} characters")
        if len(request.description) > MAX_DESCRIPTION:
            raise ApiError(400, f"description: must be at most {MAX_DESCRIPTION} characters")
        if not request.type:
            raise ApiError(400, "request does not contain the type of artifact")
        if not request.device_types:
            raise ApiError(400, "request does not contain the list of compatible device types")
        if request.type not in GENERATE_TYPES:
            raise ApiError(400, f"unsupported type of artifact: {request.type}; supported types are: single_file")

    @staticmethod
    def _validate_generate_args(request: GenerateRequest) -> None:
        dest_dir = request.args.get("dest_dir")
        if not isinstance(dest_dir, str) or not dest_dir.startswith("/") or _has_control_characters(dest_dir):
            raise ApiError(400, "args: dest_dir must be an absolute directory on the device, e.g. {\"dest_dir\": \"/opt/app\"}")
        filename = request.args.get("filename", request.file_name)
        if not isinstance(filename, str) or safe_file_name(filename) != filename or filename in ("dest_dir", "filename", "permissions"):
            raise ApiError(400, "args: filename must be a plain file name (letters, digits, '.', '_', '+', '-')")
        permissions = request.args.get("permissions", "644")
        if not isinstance(permissions, str) or not re.fullmatch(r"[0-7]{3,4}", permissions):
            raise ApiError(400, "args: permissions must be octal digits, e.g. \"644\"")

    async def _check_generate_unique(self, tenant_id: str, request: GenerateRequest) -> None:
        hashes = [
            depends_key_hash(request.name, combination)
            for combination in depends_combinations({"device_type": request.device_types})
        ]
        async with self.ctx.db.read() as session:
            clash = await session.scalar(
                select(models.ArtifactDependsKey.artifact_id)
                .where(models.ArtifactDependsKey.tenant_id == tenant_id, models.ArtifactDependsKey.key_hash.in_(hashes))
                .limit(1)
            )
            pending = await session.scalars(
                select(models.ArtifactGeneration.device_types).where(
                    models.ArtifactGeneration.tenant_id == tenant_id, models.ArtifactGeneration.name == request.name
                )
            )
            overlapping = any(set(types) & set(request.device_types) for types in pending)
        if clash is not None or overlapping:
            raise ApiError(422, "Artifact not unique")

    # --- the background builder ------------------------------------------------------------------------

    async def start_worker(self) -> None:
        """Start building generated artifacts, pending ones from an earlier run first (after removing the files
        an earlier run left without a row)."""
        await self.remove_orphan_files()
        self._cancel.clear()
        self._queue = asyncio.Queue()
        async with self.ctx.db.read() as session:
            pending = (
                await session.execute(
                    select(models.ArtifactGeneration.tenant_id, models.ArtifactGeneration.id).order_by(models.ArtifactGeneration.created)
                )
            ).all()
        for tenant_id, artifact_id in pending:
            self._queue.put_nowait((tenant_id, artifact_id))
        if pending:
            log.info("resuming %d pending artifact generation(s)", len(pending))
        self._worker = asyncio.create_task(self._work(), name="artifact-generation")

    async def stop_worker(self) -> None:
        """Stop after the current step: a build in progress is abandoned and resumes at the next start."""
        self._cancel.set()
        if self._queue is not None:
            self._queue.put_nowait(None)
        if self._worker is not None:
            await asyncio.gather(self._worker, return_exceptions=True)
        self._worker = self._queue = None

    async def remove_orphan_files(self) -> int:
        """Delete artifact and raw files that no row refers to; returns how many. A crash leaves them between
        moving a file into place and committing its row, or between committing a delete (or a finished
        generation) and removing the file. For start-up, before any upload or build: across all tenants."""
        async with self.ctx.db.read() as session:
            referenced = set(await session.scalars(select(models.Artifact.storage_key)))
            referenced.update(await session.scalars(select(models.ArtifactGeneration.raw_key)))
        stored = await asyncio.to_thread(self.ctx.storage.keys)
        orphans = [key for key in stored if _OWN_BLOB.fullmatch(key) and key not in referenced]
        for key in orphans:
            await self.ctx.storage.delete(key)
        if orphans:
            log.info("removed %d artifact file(s) without a row, left by an earlier run", len(orphans))
        return len(orphans)

    async def wait_idle(self) -> None:
        """Wait until every queued generation has been handled (tests, benchmarks)."""
        if self._queue is not None:
            await self._queue.join()

    def _submit(self, tenant_id: str, artifact_id: str) -> None:
        if self._queue is not None:
            self._queue.put_nowait((tenant_id, artifact_id))

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            try:
                if item is None or self._cancel.is_set():
                    return
                await self._build(*item)
            except OperationCancelled:
                return
            except Exception:
                log.exception("artifact generation %s failed", item)
            finally:
                self._queue.task_done()

    @staticmethod
    async def _forget_generation(session: AsyncSession, tenant_id: str, artifact_id: str) -> None:
        await session.execute(
            delete(models.ArtifactGeneration).where(
                models.ArtifactGeneration.tenant_id == tenant_id, models.ArtifactGeneration.id == artifact_id
            )
        )

    async def _build(self, tenant_id: str, artifact_id: str) -> None:
        async with self.ctx.db.read() as session:
            generation = await session.scalar(
                select(models.ArtifactGeneration).where(
                    models.ArtifactGeneration.tenant_id == tenant_id, models.ArtifactGeneration.id == artifact_id
                )
            )
        if generation is None:
            return
        raw_path = self.ctx.storage.local_path(generation.raw_key)
        temp = self.ctx.storage.new_temp_path()
        try:
            assert raw_path is not None
            args = generation.args
            await asyncio.to_thread(
                write_single_file_artifact,
                temp,
                name=generation.name,
                device_types=generation.device_types,
                file_path=raw_path,
                file_name=args.get("filename") or generation.file_name,
                dest_dir=args["dest_dir"],
                permissions=args.get("permissions", "644"),
                temp_dir=temp.parent,
                cancel=self._cancel,
            )
            size, sha256 = await asyncio.to_thread(_file_sha256, temp)
            parsed = await self._parse(temp)

            async def forget_request(session: AsyncSession) -> None:
                await self._forget_generation(session, tenant_id, artifact_id)

            await self._store(tenant_id, artifact_id, parsed, _Received(temp, size, sha256), generation.description, also=forget_request)
            log.info("generated artifact %s (%s) for tenant %r", artifact_id, generation.name, tenant_id)
        except OperationCancelled:
            raise
        except Exception as exc:  # whatever the cause, the request ends: it must not block its name for ever
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            expected = isinstance(exc, (ApiError, ArtifactError, ValueError, OSError))
            log.warning(
                "artifact generation %s (%s) failed and is dropped: %s", artifact_id, generation.name, message,
                exc_info=None if expected else exc,
            )
            async with self.ctx.db.write() as session:
                await self._forget_generation(session, tenant_id, artifact_id)
        finally:
            await asyncio.to_thread(temp.unlink, missing_ok=True)
        await self.ctx.storage.delete(generation.raw_key)
