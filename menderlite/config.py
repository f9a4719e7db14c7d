"""Typed settings: defaults, then a TOML file, then MENDERLITE_<SECTION>_<KEY> variables, then CLI flags.

Every key lives in one section dataclass below; `config.example.toml` lists them all with their defaults
(a test keeps the two in step). A bad key or value raises `ConfigError` with a one-line message naming the
key, which the CLI prints before exiting with status 2.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "MENDERLITE_"
ENV_CONFIG_FILE = "MENDERLITE_CONFIG"
# Variables with these prefixes belong to the test suite and benchmarks, not to the server's settings.
ENV_RESERVED_PREFIXES = ("MENDERLITE_E2E_", "MENDERLITE_TEST_", "MENDERLITE_BENCH_")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PLANS = ("os", "professional", "enterprise")


class ConfigError(Exception):
    """A configuration problem, described in one line that names the key."""


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class ServerSettings:
    host: str = field(default="0.0.0.0", metadata=_help("address to listen on"))
    port: int = field(default=8080, metadata=_help("TCP port to listen on"))
    data_dir: str = field(default="./menderlite-data", metadata=_help("database, keys, artifacts and TLS files"))
    public_url: str = field(
        default="", metadata=_help("base URL devices use to reach this server; empty: scheme and Host of each request")
    )
    tls_cert: str = field(default="", metadata=_help("PEM certificate (chain) to serve HTTPS with"))
    tls_key: str = field(default="", metadata=_help("PEM private key of tls_cert"))
    tls_self_signed: bool = field(default=False, metadata=_help("serve HTTPS with a generated self-signed certificate"))
    tls_hostnames: list[str] = field(
        default_factory=list, metadata=_help("extra DNS names or IPs for the self-signed certificate")
    )
    max_json_body_bytes: int = field(default=1048576, metadata=_help("largest accepted JSON request body"))
    internal_networks: list[str] = field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        metadata=_help("peers allowed on /api/internal/... and the workflows API /api/v1/..."),
    )
    cors_origins: list[str] = field(default_factory=lambda: ["*"], metadata=_help("origins allowed by CORS"))
    log_level: str = field(default="INFO", metadata=_help("DEBUG, INFO, WARNING, ERROR or CRITICAL"))
    access_log: bool = field(default=True, metadata=_help("log one line per request"))
    shutdown_timeout_seconds: float = field(
        default=30.0, metadata=_help("how long in-flight requests may run after SIGTERM")
    )


@dataclass(frozen=True)
class DatabaseSettings:
    path: str = field(default="", metadata=_help("SQLite file; empty: <data_dir>/menderlite.db"))
    busy_timeout_ms: int = field(default=10000, metadata=_help("how long SQLite waits for a lock held elsewhere"))
    read_connections: int = field(default=4, metadata=_help("size of the read connection pool"))


@dataclass(frozen=True)
class KeysSettings:
    jwt_private_key: str = field(
        default="", metadata=_help("RSA key that signs JWTs; empty: <data_dir>/keys/jwt-private.pem")
    )
    url_secret: str = field(
        default="", metadata=_help("secret file for signed download links; empty: <data_dir>/keys/url-secret")
    )


@dataclass(frozen=True)
class UseradmSettings:
    jwt_issuer: str = field(default="mender.useradm", metadata=_help("iss claim of user tokens"))
    jwt_expiration_seconds: int = field(default=604800, metadata=_help("lifetime of user tokens"))
    password_reset_expiration_seconds: int = field(default=3600, metadata=_help("lifetime of a password-reset secret"))
    password_reset_url: str = field(
        default="", metadata=_help("reset link with {secret}; empty: <public URL>/ui/#/password/{secret}")
    )
    bcrypt_rounds: int = field(default=12, metadata=_help("bcrypt cost of new password hashes (4 to 31)"))


@dataclass(frozen=True)
class SmtpSettings:
    host: str = field(default="", metadata=_help("SMTP server for password-reset mails; empty: log the link"))
    port: int = field(default=25, metadata=_help("SMTP port"))
    username: str = field(default="", metadata=_help("SMTP login; empty: no authentication"))
    password: str = field(default="", metadata=_help("SMTP password"))
    sender: str = field(default="menderlite@localhost", metadata=_help("From address of mails"))
    starttls: bool = field(default=False, metadata=_help("upgrade the connection with STARTTLS"))
    ssl: bool = field(default=False, metadata=_help("connect with implicit TLS (port 465)"))
    timeout_seconds: float = field(default=10.0, metadata=_help("SMTP connection timeout"))


@dataclass(frozen=True)
class DevauthSettings:
    jwt_issuer: str = field(default="Mender", metadata=_help("iss claim of device tokens"))
    jwt_expiration_seconds: int = field(default=604800, metadata=_help("lifetime of device tokens"))
    min_rsa_key_bits: int = field(default=2048, metadata=_help("smallest RSA device key accepted"))
    max_devices: int = field(default=0, metadata=_help("accepted-device limit of the default tenant; 0: unlimited"))
    verify_cache_size: int = field(
        default=100000, metadata=_help("device-token verdicts kept in memory (~400 bytes each) to speed up check-ins; 0: no cache")
    )


@dataclass(frozen=True)
class DeploymentsSettings:
    artifacts_dir: str = field(default="", metadata=_help("artifact files; empty: <data_dir>/artifacts"))
    management_link_expiration_seconds: int = field(default=900, metadata=_help("lifetime of user download links"))
    device_link_expiration_seconds: int = field(default=86400, metadata=_help("lifetime of device download links"))
    max_artifact_bytes: int = field(default=10737418240, metadata=_help("largest accepted artifact upload"))
    storage_limit_bytes: int = field(default=0, metadata=_help("artifact storage limit of the default tenant; 0: none"))
    artifact_verify_keys: list[str] = field(
        default_factory=list, metadata=_help("RSA or ECDSA public keys (PEM files or PEM text); signed uploads must verify with one, else 400")
    )
    check_in_cache_size: int = field(
        default=100000,
        metadata=_help("devices remembered as having nothing to do (~100 bytes each), so their check-ins skip the database; 0: no cache"),
    )


@dataclass(frozen=True)
class TenantadmSettings:
    default_plan: str = field(default="enterprise", metadata=_help("plan of the default tenant: os, professional, enterprise"))
    signup: bool = field(
        default=False,
        metadata=_help("anyone may create a tenant account (POST .../tenantadm/tenants); off: only admins of the default tenant"),
    )
    tenant_token_expiration_seconds: int = field(
        default=315360000, metadata=_help("lifetime of tenant tokens (devices' TenantToken); default ten years")
    )


@dataclass(frozen=True)
class WorkflowsSettings:
    allow_cli: bool = field(
        default=False,
        metadata=_help("run cli tasks and @file http bodies of workflow definitions (runs commands on this server!)"),
    )
    env: list[str] = field(
        default_factory=list,
        metadata=_help("environment variables definitions may read with ${env.NAME}; others expand to \"\""),
    )
    concurrency: int = field(default=4, metadata=_help("workflow jobs run at the same time"))
    retry_delay_seconds: float = field(default=1.0, metadata=_help("pause between two attempts of a failed task"))
    stop_timeout_seconds: float = field(
        default=5.0, metadata=_help("how long running jobs may finish at shutdown; the rest resume at the next start")
    )


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    keys: KeysSettings = field(default_factory=KeysSettings)
    useradm: UseradmSettings = field(default_factory=UseradmSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    devauth: DevauthSettings = field(default_factory=DevauthSettings)
    deployments: DeploymentsSettings = field(default_factory=DeploymentsSettings)
    tenantadm: TenantadmSettings = field(default_factory=TenantadmSettings)
    workflows: WorkflowsSettings = field(default_factory=WorkflowsSettings)

    # Derived paths: everything defaults to a place under the data directory.
    @property
    def data_dir(self) -> Path:
        return Path(self.server.data_dir).expanduser().resolve()

    def _under_data_dir(self, configured: str, *default: str) -> Path:
        return Path(configured).expanduser().resolve() if configured else self.data_dir.joinpath(*default)

    @property
    def database_path(self) -> Path:
        return self._under_data_dir(self.database.path, "menderlite.db")

    @property
    def jwt_key_path(self) -> Path:
        return self._under_data_dir(self.keys.jwt_private_key, "keys", "jwt-private.pem")

    @property
    def url_secret_path(self) -> Path:
        return self._under_data_dir(self.keys.url_secret, "keys", "url-secret")

    @property
    def artifacts_dir(self) -> Path:
        return self._under_data_dir(self.deployments.artifacts_dir, "artifacts")

    @property
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

    @property
    def tls_enabled(self) -> bool:
        return bool(self.server.tls_cert or self.server.tls_self_signed)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
        """A copy with `{section: {key: value}}` applied (values already typed); used by tests and flags."""
        sections = {}
        for section_field in dataclasses.fields(self):
            section = getattr(self, section_field.name)
            changes = overrides.get(section_field.name, {})
            sections[section_field.name] = dataclasses.replace(section, **changes) if changes else section
        result = Settings(**sections)
        validate(result)
        return result


def section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def _key_types(section_type: type) -> dict[str, Any]:
    hints = typing.get_type_hints(section_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(section_type)}


def _coerce(name: str, expected: Any, value: Any, *, from_text: bool) -> Any:
    """Check (TOML) or parse (environment text) one value against its declared type."""
    if expected is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if expected is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if expected is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_text and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if expected is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    if typing.get_origin(expected) is list:
        if from_text and isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        raise ConfigError(f"{name}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{name}: unsupported type")  # pragma: no cover - only if a section declares a new type


def _apply(raw: Mapping[str, Mapping[str, Any]], *, from_text: bool, source: str) -> dict[str, dict[str, Any]]:
    sections = section_types()
    typed: dict[str, dict[str, Any]] = {}
    for section_name, values in raw.items():
        if section_name not in sections:
            raise ConfigError(f"{source}: unknown section [{section_name}]")
        if not isinstance(values, Mapping):
            raise ConfigError(f"{source}: [{section_name}] must be a table")
        keys = _key_types(sections[section_name])
        for key, value in values.items():
            name = f"{section_name}.{key}"
            if key not in keys:
                raise ConfigError(f"{source}: unknown key {name}")
            typed.setdefault(section_name, {})[key] = _coerce(name, keys[key], value, from_text=from_text)
    return typed


def read_file(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key, value in raw.items():
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: key {key} must be inside a [section]")
    return _apply(raw, from_text=False, source=str(path))


def read_environment(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    sections = section_types()
    raw: dict[str, dict[str, str]] = {}
    for variable, value in environ.items():
        if not variable.startswith(ENV_PREFIX) or variable == ENV_CONFIG_FILE:
            continue
        if variable.startswith(ENV_RESERVED_PREFIXES):
            continue
        rest = variable[len(ENV_PREFIX):].lower()
        section, _, key = rest.partition("_")
        if section not in sections or key not in _key_types(sections[section]):
            raise ConfigError(f"environment: unknown setting {variable}")
        raw.setdefault(section, {})[key] = value
    return _apply(raw, from_text=True, source="environment")


def _merge(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            merged.setdefault(section, {}).update(values)
    return merged


def validate(settings: Settings) -> None:
    """Value checks beyond types; each failure names its key."""
    server = settings.server
    if not 0 <= server.port <= 65535:
        raise ConfigError(f"server.port: must be between 0 and 65535, got {server.port}")
    if server.log_level.upper() not in LOG_LEVELS:
        raise ConfigError(f"server.log_level: must be one of {', '.join(LOG_LEVELS)}, got {server.log_level!r}")
    if server.max_json_body_bytes < 1024:
        raise ConfigError("server.max_json_body_bytes: must be at least 1024")
    for network in server.internal_networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"server.internal_networks: not a network: {network!r}") from None
    if bool(server.tls_cert) != bool(server.tls_key):
        raise ConfigError("server.tls_cert and server.tls_key: give both or neither")
    if server.tls_cert and server.tls_self_signed:
        raise ConfigError("server.tls_self_signed: cannot be combined with server.tls_cert")
    if server.public_url and not server.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"server.public_url: must start with http:// or https://, got {server.public_url!r}")
    positive = {
        "database.busy_timeout_ms": settings.database.busy_timeout_ms,
        "database.read_connections": settings.database.read_connections,
        "useradm.jwt_expiration_seconds": settings.useradm.jwt_expiration_seconds,
        "useradm.password_reset_expiration_seconds": settings.useradm.password_reset_expiration_seconds,
        "devauth.jwt_expiration_seconds": settings.devauth.jwt_expiration_seconds,
        "devauth.min_rsa_key_bits": settings.devauth.min_rsa_key_bits,
        "deployments.management_link_expiration_seconds": settings.deployments.management_link_expiration_seconds,
        "deployments.device_link_expiration_seconds": settings.deployments.device_link_expiration_seconds,
        "deployments.max_artifact_bytes": settings.deployments.max_artifact_bytes,
        "smtp.port": settings.smtp.port,
        "tenantadm.tenant_token_expiration_seconds": settings.tenantadm.tenant_token_expiration_seconds,
        "workflows.concurrency": settings.workflows.concurrency,
    }
    for name, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{name}: must be positive, got {value}")
    non_negative = {
        "devauth.max_devices": settings.devauth.max_devices,
        "devauth.verify_cache_size": settings.devauth.verify_cache_size,
        "deployments.storage_limit_bytes": settings.deployments.storage_limit_bytes,
        "server.shutdown_timeout_seconds": settings.server.shutdown_timeout_seconds,
        "workflows.retry_delay_seconds": settings.workflows.retry_delay_seconds,
        "workflows.stop_timeout_seconds": settings.workflows.stop_timeout_seconds,
    }
    for name, value in non_negative.items():
        if value < 0:
            raise ConfigError(f"{name}: must not be negative, got {value}")
    if not 4 <= settings.useradm.bcrypt_rounds <= 31:
        raise ConfigError(f"useradm.bcrypt_rounds: must be between 4 and 31, got {settings.useradm.bcrypt_rounds}")
    if settings.useradm.password_reset_url and "{secret}" not in settings.useradm.password_reset_url:
        raise ConfigError("useradm.password_reset_url: must contain {secret}")
    if settings.tenantadm.default_plan not in PLANS:
        raise ConfigError(f"tenantadm.default_plan: must be one of {', '.join(PLANS)}, got {settings.tenantadm.default_plan!r}")


def load(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build settings from defaults < file < environment < flags (flags are already typed)."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(ENV_CONFIG_FILE) or None
    file_layer = read_file(config_file) if config_file else {}
    env_layer = read_environment(environ)
    flag_layer = _apply(flags or {}, from_text=False, source="command line")
    merged = _merge(file_layer, env_layer, flag_layer)
    sections = section_types()
    settings = Settings(**{name: sections[name](**merged.get(name, {})) for name in sections})
    validate(settings)
    return settings
