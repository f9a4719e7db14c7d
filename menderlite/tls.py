"""HTTPS: a given certificate and key, or a self-signed certificate made once under <data-dir>/tls/."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from menderlite.config import Settings

DEFAULT_NAMES = ("localhost", "127.0.0.1")
VALIDITY_DAYS = 3650


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    generated: bool = False


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _covered_names(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {str(value) for value in san.get_values_for_type(x509.DNSName)}
    names |= {str(value) for value in san.get_values_for_type(x509.IPAddress)}
    return names


def _canonical(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name.lower()


def create_self_signed(cert_path: Path, key_path: Path, names: list[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "menderlite")])
    now = datetime.datetime.now(datetime.UTC)
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    temp_key = key_path.with_suffix(".tmp")
    descriptor = os.open(temp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    os.replace(temp_key, key_path)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def self_signed_files(settings: Settings) -> TlsFiles:
    """The self-signed pair, created once and recreated only when a requested name is not covered."""
    cert_path = settings.tls_dir / "server.crt"
    key_path = settings.tls_dir / "server.key"
    names = list(dict.fromkeys([*DEFAULT_NAMES, *settings.server.tls_hostnames]))
    wanted = {_canonical(name) for name in names}
    if cert_path.exists() and key_path.exists() and wanted <= {_canonical(n) for n in _covered_names(cert_path)}:
        return TlsFiles(cert_path, key_path)
    create_self_signed(cert_path, key_path, names)
    return TlsFiles(cert_path, key_path, generated=True)


def tls_files(settings: Settings) -> TlsFiles | None:
    if settings.server.tls_cert:
        return TlsFiles(Path(settings.server.tls_cert), Path(settings.server.tls_key))
    if settings.server.tls_self_signed:
        return self_signed_files(settings)
    return None


def server_ssl_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    return context
