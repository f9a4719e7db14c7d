"""A simulated Mender device: keys, identity, signed auth requests, and authentication over HTTP.

It speaks exactly like `mender-client` 3.4 (CLIENTS.md §4): the body is compact JSON
`{"id_data": "<identity as a sorted, compact JSON string>", "tenant_token": "...", "pubkey": "<PKIX PEM>"}`
followed by a newline, and `X-MEN-Signature` is base64 of the signature over exactly those bytes.

    device = SimulatedDevice.create("ec256", {"mac": "02:00:00:00:00:01"})
    result = await device.authenticate(client)          # an aiohttp TestClient on the app
    result = await device.authenticate_url(base_url)    # or any running server
    result.status  # 401 while pending, 200 once accepted
    device.auth_headers(result.token)                   # {"Authorization": "Bearer <jwt>"}

`admit(client, ...)` preauthorizes a device through the devauth service layer and authenticates it over
HTTP, which is how the `device_headers` fixture gets real device tokens. Key generation: Ed25519 and EC
keys are instant; RSA takes ~0.1 s for 2048 bits (the server refuses fewer by default) and more beyond.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

AUTH_PATH = "/api/devices/v1/authentication/auth_requests"
SIGNATURE_HEADER = "X-MEN-Signature"

KeyType = Literal["rsa", "ec224", "ec256", "ec384", "ec521", "ed25519"]
KEY_TYPES: tuple[KeyType, ...] = ("rsa", "ec224", "ec256", "ec384", "ec521", "ed25519")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_CURVES: dict[str, ec.EllipticCurve] = {
    "ec224": ec.SECP224R1(),
    "ec256": ec.SECP256R1(),
    "ec384": ec.SECP384R1(),
    "ec521": ec.SECP521R1(),
}


def generate_key(key_type: KeyType = "ed25519", *, rsa_bits: int = 2048) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(_CURVES[key_type])


def public_key_pem(key: PrivateKey) -> str:
    """The PKIX (`BEGIN PUBLIC KEY`) PEM the real client sends, with its trailing newline."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def sign(key: PrivateKey, body: bytes) -> str:
    """base64 signature of `body` as deviceauth expects it for each key type."""
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(body, ec.ECDSA(hashes.SHA256()))  # ASN.1 DER SEQUENCE{r, s}
    else:
        signature = key.sign(body)  # Ed25519 signs the message itself
    return base64.b64encode(signature).decode()


def compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class AuthResult:
    status: int
    body: str

    @property
    def token(self) -> str | None:
        return self.body if self.status == 200 else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SimulatedDevice:
    identity: dict[str, Any]
    private_key: PrivateKey
    tenant_token: str = ""
    token: str | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls, key_type: KeyType = "ed25519", identity: dict[str, Any] | None = None, *, rsa_bits: int = 2048
    ) -> SimulatedDevice:
        key = generate_key(key_type, rsa_bits=rsa_bits)
        if identity is None:
            fingerprint = hashlib.sha256(public_key_pem(key).encode()).hexdigest()
            identity = {"mac": ":".join(["02", *(fingerprint[i : i + 2] for i in range(0, 10, 2))])}
        return cls(identity=dict(identity), private_key=key)

    @property
    def id_data(self) -> str:
        return compact_json(self.identity)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.private_key)

    def rotate_key(self, key_type: KeyType = "ed25519", *, rsa_bits: int = 2048) -> None:
        """Switch to a new key pair (the server sees a new pending auth set for the same device)."""
        self.private_key = generate_key(key_type, rsa_bits=rsa_bits)
        self.token = None

    def auth_request_body(self) -> bytes:
        document = {"id_data": self.id_data, "tenant_token": self.tenant_token, "pubkey": self.public_key_pem}
        return (json.dumps(document, separators=(",", ":")) + "\n").encode()

    def auth_request(self) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a signed auth request."""
        body = self.auth_request_body()
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {self.tenant_token}".rstrip(),
            SIGNATURE_HEADER: sign(self.private_key, body),
        }
        return body, headers

    async def authenticate(self, client: Any) -> AuthResult:
        """POST a signed auth request through an aiohttp TestClient; remembers the token on success."""
        body, headers = self.auth_request()
        response = await client.post(AUTH_PATH, data=body, headers=headers)
        return self._remember(AuthResult(response.status, await response.text()))

    async def authenticate_url(self, base_url: str, session: aiohttp.ClientSession | None = None) -> AuthResult:
        """The same against a running server, e.g. `http://127.0.0.1:8080`."""
        body, headers = self.auth_request()
        own_session = session is None
        session = session or aiohttp.ClientSession()
        try:
            async with session.post(base_url.rstrip("/") + AUTH_PATH, data=body, headers=headers) as response:
                return self._remember(AuthResult(response.status, await response.text()))
        finally:
            if own_session:
                await session.close()

    def auth_headers(self, token: str | None = None) -> dict[str, str]:
        token = token or self.token
        if not token:
            raise ValueError("the device has no token yet: authenticate an accepted device first")
        return {"Authorization": f"Bearer {token}"}

    def _remember(self, result: AuthResult) -> AuthResult:
        if result.token is not None:
            self.token = result.token
        return result


async def admit(
    client: Any,
    device_id: str | None = None,
    *,
    key_type: KeyType = "ed25519",
    identity: dict[str, Any] | None = None,
) -> tuple[SimulatedDevice, str]:
    """A device accepted for real: preauthorized in the service layer, then authenticated over HTTP.

    `client` is an aiohttp TestClient on the real app; the device is in the default tenant (auth requests
    are single-tenant for now). Returns the device (holding its token) and its id.
    """
    from menderlite.app import CONTEXT

    devauth = client.app[CONTEXT].devauth
    device = SimulatedDevice.create(key_type, identity if identity is not None else ({"sn": device_id} if device_id else None))
    device_id = await devauth.preauthorize("", device.identity, device.public_key_pem, device_id=device_id)
    result = await device.authenticate(client)
    if result.status != 200:
        raise AssertionError(f"preauthorized device was not accepted: {result.status} {result.body}")
    return device, device_id
