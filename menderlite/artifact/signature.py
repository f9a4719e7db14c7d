"""Checking `manifest.sig` as `mender-artifact sign` writes it.

The signature is the base64 of either an RSA PKCS#1 v1.5 signature over SHA-256 of the `manifest` bytes, or
an ECDSA (P-256, SHA-256) signature as raw r||s (64 bytes; mender-artifact 3.9 writes this form). An ASN.1
DER ECDSA signature is accepted too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

VerifyKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def load_verify_key(source: str | bytes) -> VerifyKey:
    """A public key from PEM text, or from the PEM file a string names; raises ValueError."""
    if isinstance(source, str) and "-----BEGIN" not in source:
        try:
            source = Path(source).expanduser().read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read artifact verify key {source}: {exc.strerror}") from None
    pem = source.encode() if isinstance(source, str) else source
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as exc:
        raise ValueError(f"artifact verify key is not a PEM public key: {exc}") from None
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise ValueError("artifact verify keys must be RSA or ECDSA public keys")
    return key


def load_verify_keys(sources: Iterable[str | bytes]) -> tuple[VerifyKey, ...]:
    return tuple(load_verify_key(source) for source in sources)


def decode_signature(text: bytes) -> bytes | None:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_manifest(manifest: bytes, signature_b64: bytes, keys: Sequence[VerifyKey]) -> bool:
    """True if any key verifies the signature of `manifest`."""
    signature = decode_signature(signature_b64)
    if not signature:
        return False
    return any(_verifies(key, manifest, signature) for key in keys)


def _verifies(key: VerifyKey, message: bytes, signature: bytes) -> bool:
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            return True
        for candidate in _ecdsa_der_forms(key, signature):
            try:
                key.verify(candidate, message, ec.ECDSA(hashes.SHA256()))
                return True
            except InvalidSignature:
                continue
        return False
    except (InvalidSignature, ValueError):
        return False


def _ecdsa_der_forms(key: ec.EllipticCurvePublicKey, signature: bytes) -> list[bytes]:
    size = (key.curve.key_size + 7) // 8
    forms = []
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        forms.append(encode_dss_signature(r, s))
    forms.append(signature)
    return forms
