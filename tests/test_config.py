"""Configuration: defaults < TOML file < environment < flags, and one-line errors naming the key."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from menderlite.cli import build_parser
from menderlite.config import ConfigError, Settings, load, section_types

REPO = Path(__file__).resolve().parent.parent


def test_defaults() -> None:
    settings = load(environ={})
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 8080
    assert settings.server.data_dir == "./menderlite-data"
    assert settings.database_path == Path("menderlite-data/menderlite.db").resolve()
    assert settings.server.max_json_body_bytes == 1024 * 1024
    assert settings.server.internal_networks == ["127.0.0.0/8", "::1/128"]


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "menderlite.toml"
    config.write_text('[server]\nport = 1111\nhost = "127.0.0.1"\nlog_level = "DEBUG"\n[devauth]\nmax_devices = 3\n')
    environ = {"MENDERLITE_SERVER_PORT": "2222", "MENDERLITE_DEVAUTH_MAX_DEVICES": "5"}
    from_file = load(config, environ={})
    assert (from_file.server.port, from_file.server.host, from_file.devauth.max_devices) == (1111, "127.0.0.1", 3)
    from_env = load(config, environ=environ)
    assert (from_env.server.port, from_env.server.host, from_env.devauth.max_devices) == (2222, "127.0.0.1", 5)
    from_flags = load(config, environ=environ, flags={"server": {"port": 3333}})
    assert (from_flags.server.port, from_flags.server.log_level, from_flags.devauth.max_devices) == (3333, "DEBUG", 5)


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[server]\nport = 4444\n")
    assert load(environ={"MENDERLITE_CONFIG": str(config)}).server.port == 4444


def test_environment_value_types() -> None:
    settings = load(
        environ={
            "MENDERLITE_SERVER_TLS_HOSTNAMES": "a.lan, 10.0.0.5",
            "MENDERLITE_SERVER_ACCESS_LOG": "false",
            "MENDERLITE_SERVER_SHUTDOWN_TIMEOUT_SECONDS": "2.5",
        }
    )
    assert settings.server.tls_hostnames == ["a.lan", "10.0.0.5"]
    assert settings.server.access_log is False
    assert settings.server.shutdown_timeout_seconds == 2.5


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[server]\nprot = 1\n", "unknown key server.prot"),
        ("[serve]\nport = 1\n", "unknown section [serve]"),
        ('[server]\nport = "x"\n', "server.port: expected an integer"),
        ("[server]\nport = 70000\n", "server.port: must be between 0 and 65535"),
        ('[server]\nlog_level = "LOUD"\n', "server.log_level"),
        ('[server]\ninternal_networks = ["nonsense"]\n', "server.internal_networks"),
        ("port = 1\n", "key port must be inside a [section]"),
        ("[server\n", "not valid TOML"),
        ('[tenantadm]\ndefault_plan = "gold"\n', "tenantadm.default_plan"),
    ],
)
def test_bad_file_names_the_key(tmp_path: Path, toml: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError) as error:
        load(config, environ={})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_test_suite_variables_are_not_settings() -> None:
    assert load(environ={"MENDERLITE_E2E_REQUIRED": "1", "MENDERLITE_BENCH_X": "y"}).server.port == 8080


def test_bad_environment_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MENDERLITE_SERVER_PROT"):
        load(environ={"MENDERLITE_SERVER_PROT": "1"})
    with pytest.raises(ConfigError, match="server.port: expected an integer"):
        load(environ={"MENDERLITE_SERVER_PORT": "eighty"})


def test_example_file_lists_every_key_with_its_default() -> None:
    example = tomllib.loads((REPO / "config.example.toml").read_text())
    defaults = Settings()
    for section_name, section_type in section_types().items():
        assert section_name in example, f"[{section_name}] missing from config.example.toml"
        for field in dataclasses.fields(section_type):
            assert field.name in example[section_name], f"{section_name}.{field.name} missing from the example"
            assert example[section_name][field.name] == getattr(getattr(defaults, section_name), field.name), (
                f"{section_name}.{field.name}: the example's value is not the default"
            )
    load(REPO / "config.example.toml", environ={})  # and it loads without error


def test_cli_reports_a_bad_key_in_one_line_with_status_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[server]\nprot = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "menderlite", "migrate", "--config", str(config), "--data-dir", str(tmp_path / "d")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"menderlite: configuration error: {config}: unknown key server.prot"
    assert "Traceback" not in result.stderr


def test_cli_usage_error_is_status_2() -> None:
    result = subprocess.run([sys.executable, "-m", "menderlite", "serve", "--port", "x"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "invalid int value" in result.stderr


def every_command(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    commands = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                commands += every_command(subparser, (*prefix, name))
    return commands


COMMANDS = every_command(build_parser())


def test_the_command_list_is_complete() -> None:
    assert {("serve",), ("migrate",), ("user", "create"), ("user", "list"), ("user", "set-password")} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "menderlite")
def test_help_for_every_command(command: tuple[str, ...]) -> None:
    result = subprocess.run([sys.executable, "-m", "menderlite", *command, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "usage: menderlite" in result.stdout
