"""A small synchronous HTTP client for the scenarios (urllib, no extra dependency), and the management calls
the issue 8 scenarios need.

`HttpApi.request` never raises on an HTTP status: it returns the response, so tests assert on it.
`ManagementApi` methods assert the documented success status and fail with the body otherwise.
"""

from __future__ import annotations

import base64
import json as jsonlib
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

from tests.e2e.harness import diagnostics


@dataclass
class HttpResponse:
    method: str
    url: str
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def expect(self, *statuses: int) -> HttpResponse:
        """Return self if the status is one of `statuses`, else fail with the body (a readable assertion)."""
        assert self.status in statuses, f"{self.method} {self.url}: expected {statuses}, got {self.status}: {self.text[:2000]}"
        return self


class HttpApi:
    def __init__(self, base_url: str, *, cafile: Path | None = None, token: str | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.cafile = cafile
        self.token = token
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(cafile)) if cafile else None

    def with_token(self, token: str | None) -> HttpApi:
        return HttpApi(self.base_url, cafile=self.cafile, token=token, timeout=self.timeout)

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, doseq=True)
        return url

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> HttpResponse:
        all_headers = dict(headers or {})
        if json is not None:
            data = jsonlib.dumps(json).encode()
            all_headers.setdefault("Content-Type", "application/json")
        if self.token is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        url = self.url(path, params)
        request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:
                return HttpResponse(method, url, response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return HttpResponse(method, url, error.code, error.headers, error.read())

    def get(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> HttpResponse:
        return self.request("DELETE", path, **kwargs)


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def multipart_body(fields: list[tuple[str, str]], file_field: str, file_name: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body: the text `fields` in order, then the file part (last, as the reference
    wants); returns (body, Content-Type)."""
    boundary = "e2e-" + uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{file_name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    parts.append(content)
    parts.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def id_from_location(response: HttpResponse) -> str:
    location = response.headers.get("Location")
    assert location, f"{response.method} {response.url}: no Location header"
    return location.rstrip("/").rsplit("/", 1)[-1]


class ManagementApi:
    """The management calls of the user scenarios, as the API reference documents them."""

    def __init__(self, http: HttpApi) -> None:
        self.http = http

    @classmethod
    def login(cls, http: HttpApi, username: str, password: str) -> ManagementApi:
        response = http.with_token(None).post(
            "/api/management/v1/useradm/auth/login", headers={"Authorization": basic_auth(username, password)}
        ).expect(200)
        return cls(http.with_token(response.text.strip()))

    # --- devauth ------------------------------------------------------------------------------------------
    def devices(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status, "per_page": 500} if status else {"per_page": 500}
        return self.http.get("/api/management/v2/devauth/devices", params=params).expect(200).json()

    def device_with_identity(self, **identity: str) -> dict[str, Any] | None:
        """The devauth device whose identity data contains `identity` (e.g. mac=...), or None."""
        for device in self.devices():
            data = device.get("identity_data") or {}
            if all(data.get(key) == value for key, value in identity.items()):
                return device
        return None

    def wait_for_device(self, *, status: str | None = None, timeout: float = 30, **identity: str) -> dict[str, Any]:
        """Wait until devauth lists a device with this identity (and `status`, e.g. "pending")."""
        def found() -> dict[str, Any] | None:
            device = self.device_with_identity(**identity)
            return device if device is not None and (status is None or device.get("status") == status) else None

        return diagnostics.wait_for(found, what=f"device {identity} ({status or 'any status'}) in devauth", timeout=timeout)

    def accept_device(self, *, timeout: float = 30, **identity: str) -> str:
        """Wait for the pending device with this identity (e.g. mac=device.mac), accept it, return its id."""
        device = self.wait_for_device(status="pending", timeout=timeout, **identity)
        self.accept(device)
        return str(device["id"])

    def set_auth_status(self, device_id: str, auth_id: str, status: str) -> None:
        self.http.put(f"/api/management/v2/devauth/devices/{device_id}/auth/{auth_id}/status", json={"status": status}).expect(204)

    def accept(self, device: dict[str, Any]) -> None:
        """Accept the device's pending auth set (the one a real client is waiting with)."""
        pending = [auth for auth in device.get("auth_sets") or [] if auth.get("status") == "pending"]
        assert pending, f"device {device.get('id')} has no pending auth set: {device}"
        self.set_auth_status(device["id"], pending[-1]["id"], "accepted")

    # --- inventory ----------------------------------------------------------------------------------------
    def inventory(self, device_id: str) -> dict[str, Any]:
        """The device's inventory attributes as {name: value} (scope `inventory`), {} while unknown."""
        response = self.http.get(f"/api/management/v1/inventory/devices/{device_id}")
        if response.status == 404:
            return {}
        return {attribute["name"]: attribute["value"] for attribute in response.expect(200).json().get("attributes") or []
                if attribute.get("scope", "inventory") == "inventory"}

    def wait_for_inventory(self, device_id: str, timeout: float = 30, **expected: Any) -> dict[str, Any]:
        """Wait until the device's inventory has every `name=value` of `expected`; returns the inventory."""
        def matching() -> dict[str, Any] | None:
            inventory = self.inventory(device_id)
            return inventory if inventory and all(inventory.get(name) == value for name, value in expected.items()) else None

        return diagnostics.wait_for(matching, what=f"inventory of {device_id} with {expected}", timeout=timeout)

    # --- deployments --------------------------------------------------------------------------------------
    def artifacts(self) -> list[dict[str, Any]]:
        return self.http.get("/api/management/v1/deployments/artifacts").expect(200).json()

    def artifact(self, artifact_id: str) -> dict[str, Any] | None:
        response = self.http.get(f"/api/management/v1/deployments/artifacts/{artifact_id}")
        return None if response.status == 404 else response.expect(200).json()

    def upload(self, path: Path, description: str = "") -> str:
        """Upload an artifact file (multipart, like mender-cli); returns its id."""
        body, content_type = multipart_body([("size", str(path.stat().st_size)), ("description", description)],
                                            "artifact", path.name, path.read_bytes())
        response = self.http.post("/api/management/v1/deployments/artifacts", data=body, headers={"Content-Type": content_type})
        return id_from_location(response.expect(201))

    def generate_artifact(self, *, name: str, device_types: list[str], file_name: str, content: bytes,
                          args: dict[str, Any], description: str = "", type: str = "single_file") -> str:
        """POST .../artifacts/generate; returns the id of the artifact the server builds in the background."""
        fields = [("name", name), ("description", description), ("device_types_compatible", ",".join(device_types)),
                  ("type", type), ("args", jsonlib.dumps(args))]
        body, content_type = multipart_body(fields, "file", file_name, content)
        response = self.http.post("/api/management/v1/deployments/artifacts/generate", data=body,
                                  headers={"Content-Type": content_type})
        return id_from_location(response.expect(201))

    def wait_for_artifact(self, artifact_id: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until the artifact exists (a generated one appears once built)."""
        return diagnostics.wait_for(lambda: self.artifact(artifact_id), what=f"artifact {artifact_id}", timeout=timeout)

    def download_artifact(self, artifact_id: str) -> bytes:
        """The artifact file, through the signed link of GET .../artifacts/{id}/download (no token on the link)."""
        link = self.http.get(f"/api/management/v1/deployments/artifacts/{artifact_id}/download").expect(200).json()
        return self.http.with_token(None).get(link["uri"]).expect(200).body

    def create_deployment(self, name: str, artifact_name: str, device_ids: list[str], **extra: Any) -> str:
        body = {"name": name, "artifact_name": artifact_name, "devices": device_ids, **extra}
        return id_from_location(self.http.post("/api/management/v1/deployments/deployments", json=body).expect(201))

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        return self.http.get(f"/api/management/v1/deployments/deployments/{deployment_id}").expect(200).json()

    def statistics(self, deployment_id: str) -> dict[str, int]:
        return self.http.get(f"/api/management/v1/deployments/deployments/{deployment_id}/statistics").expect(200).json()

    def wait_for_statistics(self, deployment_id: str, timeout: float = 60, **expected: int) -> dict[str, int]:
        """Wait until the deployment's statistics have these counts (keyword `already_installed` stands for
        `already-installed`); returns the statistics."""
        wanted = {name.replace("_", "-"): count for name, count in expected.items()}

        def matching() -> dict[str, int] | None:
            statistics = self.statistics(deployment_id)
            return statistics if all(statistics.get(name) == count for name, count in wanted.items()) else None

        return diagnostics.wait_for(matching, what=f"statistics {wanted} of deployment {deployment_id}", timeout=timeout)

    def wait_for_deployment_status(self, deployment_id: str, status: str = "finished", timeout: float = 60) -> dict[str, Any]:
        def with_status() -> dict[str, Any] | None:
            deployment = self.deployment(deployment_id)
            return deployment if deployment.get("status") == status else None

        return diagnostics.wait_for(with_status, what=f"deployment {deployment_id} {status}", timeout=timeout)

    def deployment_devices(self, deployment_id: str) -> list[dict[str, Any]]:
        return self.http.get(f"/api/management/v1/deployments/deployments/{deployment_id}/devices").expect(200).json()

    def abort(self, deployment_id: str) -> None:
        self.http.put(f"/api/management/v1/deployments/deployments/{deployment_id}/status", json={"status": "aborted"}).expect(204)

    def device_log(self, deployment_id: str, device_id: str) -> str:
        return self.http.get(f"/api/management/v1/deployments/deployments/{deployment_id}/devices/{device_id}/log").expect(200).text

    def wait_for_device_log(self, deployment_id: str, device_id: str, timeout: float = 30) -> str:
        """The device's deployment log, once it has uploaded one (404 until then)."""
        path = f"/api/management/v1/deployments/deployments/{deployment_id}/devices/{device_id}/log"

        def uploaded() -> str | None:
            response = self.http.get(path)
            return None if response.status == 404 else response.expect(200).text

        return diagnostics.wait_for(uploaded, what=f"the log of device {device_id} in deployment {deployment_id}", timeout=timeout)
