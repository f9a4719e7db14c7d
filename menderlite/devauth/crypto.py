"""Device public keys and auth-request signatures (what the real deviceauth's `utils/crypto.go` does).

A device key is a PEM block of type `PUBLIC KEY` (PKIX / SubjectPublicKeyInfo) holding an RSA, ECDSA
(P-224, P-256, P-384, P-521) or Ed25519 key. The signature in `X-MEN-Signature` is base64 (standard
alphabet) over the raw request body bytes:

| key     | signed                  | encoding                          |
|---------|-------------------------|-----------------------------------|
| RSA     | SHA-256 of the body     | PKCS#1 v1.5                       |
| ECDSA   | SHA-256 of the body     | ASN.1 DER SEQUENCE{INTEGER r, s}  |
| Ed25519 | the body (no pre-hash)  | raw 64 bytes                      |
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

DevicePublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

SUPPORTED_CURVES = (ec.SECP224R1, ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

# The first PEM block anywhere in the text, like Go's pem.Decode.
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<type>[^-\r\n]+)-----\r?\n(?P<body>.*?)-----END (?P=type)-----", re.DOTALL
)

CANNOT_DECODE = "cannot decode public key"


class PublicKeyError(ValueError):
    """The text is not a usable device public key; the message is the one the API shows."""


@dataclass(frozen=True)
class ParsedKey:
    key: DevicePublicKey
    pem: str  # canonical PKIX PEM, 64-column lines, trailing newline

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.pem.encode()).hexdigest()


def parse_public_key(text: str, *, min_rsa_bits: int) -> ParsedKey:
    """Parse and normalise a device public key; raises PublicKeyError."""
    match = _PEM_BLOCK.search(text)
    if match is None or match.group("type") != "PUBLIC KEY":
        raise PublicKeyError(CANNOT_DECODE)
    try:
        der = base64.b64decode("".join(match.group("body").split()), validate=True)
        key = serialization.load_der_public_key(der)
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise PublicKeyError(CANNOT_DECODE) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < min_rsa_bits:
            raise PublicKeyError(f"{CANNOT_DECODE}: RSA key of {key.key_size} bits is too short (minimum {min_rsa_bits})")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, SUPPORTED_CURVES):
            raise PublicKeyError(f"{CANNOT_DECODE}: unsupported elliptic curve {key.curve.name}")
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise PublicKeyError(f"{CANNOT_DECODE}: unsupported key type")
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return ParsedKey(key=key, pem=pem)


def verify_signature(key: DevicePublicKey, signature_b64: str, body: bytes) -> bool:
    """True if `signature_b64` is a valid signature of `body` by `key`."""
    try:
        signature = base64.b64decode(signature_b64.strip(), validate=True)
    except (ValueError, binascii.Error):
        return False
    if not signature:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, body)
    except (InvalidSignature, ValueError):
        return False
    return True
