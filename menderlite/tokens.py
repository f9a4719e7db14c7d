"""Key files, JWT issue/verify (RS256 only) and HMAC-signed download links.

One module owns every token: services decide the claims, this module signs and checks them. Verification pins
the algorithm to RS256 (no `none`, no HS256 with the public key as secret), requires `exp`, `iat`, `sub`,
`jti` and `iss`, and checks the issuer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_ALGORITHM = "RS256"
JWT_KEY_BITS = 3072
REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss"]


class TokenError(Exception):
    """The token is not acceptable (bad signature, malformed, wrong issuer, missing claim...)."""


class TokenExpired(TokenError):
    """The token was valid but its `exp` has passed."""


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def load_or_create_rsa_key(path: Path, bits: int = JWT_KEY_BITS) -> rsa.RSAPrivateKey:
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_private(path, pem)
        return key
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA private key")
    return loaded


def load_or_create_secret(path: Path) -> bytes:
    if not path.exists():
        _write_private(path, secrets.token_hex(32).encode())
    secret = path.read_bytes().strip()
    if len(secret) < 32:
        raise ValueError(f"{path} holds fewer than 32 bytes of secret")
    return secret


@dataclass(frozen=True)
class Keys:
    private_key: rsa.RSAPrivateKey
    url_secret: bytes

    @classmethod
    def load_or_create(cls, jwt_key_path: Path, url_secret_path: Path) -> Keys:
        return cls(load_or_create_rsa_key(jwt_key_path), load_or_create_secret(url_secret_path))

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_key_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    # --- JWT -------------------------------------------------------------------------------------------

    def issue_jwt(self, claims: dict[str, Any]) -> str:
        missing = [name for name in REQUIRED_CLAIMS if name not in claims]
        if missing:
            raise ValueError(f"JWT claims missing: {missing}")
        return jwt.encode(claims, self.private_key, algorithm=JWT_ALGORITHM)

    def verify_jwt(self, token: str, *, issuer: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                self.public_key,
                algorithms=[JWT_ALGORITHM],
                issuer=issuer,
                options={"require": REQUIRED_CLAIMS, "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise TokenExpired("token expired") from None
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None

    # --- signed links ----------------------------------------------------------------------------------

    def url_signature(self, method: str, path: str, expire: str, tenant_id: str) -> str:
        message = f"{method.upper()}\n{path}\nx-men-expire={expire}\ntenant_id={tenant_id}\n".encode()
        digest = hmac.new(self.url_secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def sign_url_params(self, method: str, path: str, expire: datetime, tenant_id: str) -> dict[str, str]:
        """Query parameters that authorize `method path` until `expire` (the recipe of later Mender OSS)."""
        expire_text = format_expire(expire)
        return {
            "x-men-expire": expire_text,
            "tenant_id": tenant_id,
            "x-men-signature": self.url_signature(method, path, expire_text, tenant_id),
        }

    def check_url_params(self, method: str, path: str, params: dict[str, str], now: datetime) -> str:
        """Return the link's tenant id, or raise TokenExpired / TokenError."""
        expire_text = params.get("x-men-expire")
        signature = params.get("x-men-signature")
        tenant_id = params.get("tenant_id")
        if not expire_text or not signature or tenant_id is None:
            raise TokenError("missing signature parameters")
        expected = self.url_signature(method, path, expire_text, tenant_id)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):  # str: ASCII only
            raise TokenError("signature mismatch")
        try:
            expire = datetime.fromisoformat(expire_text.replace("Z", "+00:00"))
        except ValueError:
            raise TokenError("bad expiry") from None
        if expire.tzinfo is None or now > expire:
            raise TokenExpired("URL expired")
        return tenant_id


def format_expire(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme case-insensitive), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
