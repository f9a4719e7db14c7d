"""Device public keys and auth-request signatures (menderlite.devauth.crypto)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from menderlite.devauth.crypto import PublicKeyError, parse_public_key, verify_signature
from tests.support.devices import KEY_TYPES, generate_key, public_key_pem, sign

BODY = b'{"id_data":"{\\"mac\\":\\"02:00:00:00:00:01\\"}","tenant_token":"","pubkey":"..."}\n'


@pytest.fixture(scope="module")
def keys() -> dict[str, object]:
    return {key_type: generate_key(key_type) for key_type in KEY_TYPES}


@pytest.mark.parametrize("key_type", KEY_TYPES)
def test_each_key_type_parses_and_verifies(keys: dict[str, object], key_type: str) -> None:
    key = keys[key_type]
    parsed = parse_public_key(public_key_pem(key), min_rsa_bits=2048)  # type: ignore[arg-type]
    assert parsed.pem == public_key_pem(key)  # type: ignore[arg-type]
    assert len(parsed.sha256) == 64
    signature = sign(key, BODY)  # type: ignore[arg-type]
    assert verify_signature(parsed.key, signature, BODY)
    assert not verify_signature(parsed.key, signature, BODY.rstrip(b"\n"))
    assert not verify_signature(parsed.key, sign(generate_key(key_type), BODY), BODY)  # type: ignore[arg-type]


def test_keys_are_normalised_to_canonical_pem(keys: dict[str, object]) -> None:
    pem = public_key_pem(keys["ec256"])  # type: ignore[arg-type]
    messy = "leading text\r\n" + pem.replace("\n", "\r\n").rstrip() + "\r\ntrailing text"
    assert parse_public_key(messy, min_rsa_bits=2048).pem == pem
    body = "".join(pem.splitlines()[1:-1])
    one_line = f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----"
    assert parse_public_key(one_line, min_rsa_bits=2048).pem == pem


@pytest.mark.parametrize(
    "text",
    ["", "hello", "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n",
     "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
     "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"],
)
def test_garbage_is_not_a_key(text: str) -> None:
    with pytest.raises(PublicKeyError, match="^cannot decode public key$"):
        parse_public_key(text, min_rsa_bits=2048)


def test_rsa_public_key_blocks_and_short_rsa_keys() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pkcs1 = small.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1).decode()
    assert pkcs1.startswith("-----BEGIN RSA PUBLIC KEY-----")
    with pytest.raises(PublicKeyError, match="^cannot decode public key$"):
        parse_public_key(pkcs1, min_rsa_bits=1024)
    with pytest.raises(PublicKeyError, match="RSA key of 1024 bits is too short .minimum 2048."):
        parse_public_key(public_key_pem(small), min_rsa_bits=2048)
    assert parse_public_key(public_key_pem(small), min_rsa_bits=1024).key.key_size == 1024  # type: ignore[union-attr]


def test_unsupported_key_types() -> None:
    secp256k1 = ec.generate_private_key(ec.SECP256K1())
    dsa_key = dsa.generate_private_key(key_size=1024)
    x_key = x25519.X25519PrivateKey.generate()
    cases = ((secp256k1, "unsupported elliptic curve secp256k1"), (dsa_key, "unsupported key type"), (x_key, "unsupported key type"))
    for key, message in cases:
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        with pytest.raises(PublicKeyError, match=message):
            parse_public_key(pem, min_rsa_bits=2048)


def test_ecdsa_signature_must_be_asn1_not_raw(keys: dict[str, object]) -> None:
    key = keys["ec256"]
    der = key.sign(BODY, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]
    r, s = decode_dss_signature(der)
    raw = base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    parsed = parse_public_key(public_key_pem(key), min_rsa_bits=2048)  # type: ignore[arg-type]
    assert verify_signature(parsed.key, base64.b64encode(der).decode(), BODY)
    assert not verify_signature(parsed.key, raw, BODY)


@pytest.mark.parametrize("signature", ["", "   ", "%%%", "abc", "QUJD", "QUJDRA"])
def test_malformed_signatures_are_false_not_errors(keys: dict[str, object], signature: str) -> None:
    for key_type in ("rsa", "ec384", "ed25519"):
        parsed = parse_public_key(public_key_pem(keys[key_type]), min_rsa_bits=2048)  # type: ignore[arg-type]
        assert verify_signature(parsed.key, signature, BODY) is False
