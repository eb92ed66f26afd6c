"""No secret in any workspace file or output stream: database passwords, --salt, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from c2m_cli.workspace import mask_argv, mask_secrets


def _files_containing(root: Path, secret: str) -> list[str]:
    if not root.exists():
        return []
    return [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_database_password_is_never_printed_nor_written(c2m, tmp_path):
    secret = "Pg-Secret-42"
    ws = tmp_path / "ws"
    result = c2m("ingest", ws, "--orders", f"postgresql://ana:{secret}@127.0.0.1:9/shop?table=orders", "--json")
    assert result.exit_code != 0
    assert result.exit_code != 1 or "a bug in c2m" not in result.stderr
    assert secret not in result.stdout and secret not in result.stderr
    assert "ana:***@127.0.0.1" in result.stderr or "127.0.0.1" not in result.stderr
    assert _files_containing(ws, secret) == []


def test_a_password_from_the_environment_is_masked_in_messages():
    import os

    from c2m_cli.workspace import register_argv_secrets

    os.environ["PGPASSWORD"] = "env-Pass-777"
    try:
        register_argv_secrets(["ingest", "ws"])
        assert mask_secrets("connection failed for password env-Pass-777") == "connection failed for password ***"
    finally:
        del os.environ["PGPASSWORD"]


@pytest.mark.slow
def test_salt_reaches_no_file_and_no_stream(c2m, tmp_path):
    ws = tmp_path / "shop"
    made = c2m("demo", ws, "--users", "400", "--seed", "1")
    assert made.exit_code == 0, made.stderr
    secrets = {"--salt": "Salty-Secret-77", "--salt=": "Other-Salt-88"}
    spaced = c2m("recommend", ws, "--hash-ids", "--salt", secrets["--salt"], "--json", "--verbose")
    assert spaced.exit_code == 0, spaced.stderr
    joined = c2m("recommend", ws, "--hash-ids", f"--salt={secrets['--salt=']}", "--json", "--verbose")
    assert joined.exit_code == 0, joined.stderr
    for secret in secrets.values():
        for stream in (spaced.stdout, spaced.stderr, joined.stdout, joined.stderr):
            assert secret not in stream
        assert _files_containing(ws, secret) == []
    manifest = (ws / "manifest.json").read_text(encoding="utf-8")
    assert '"--salt=***"' in manifest and '"--salt",\n        "***"' in manifest


def test_masking_covers_every_form_of_a_secret_option():
    assert mask_argv(["x", "--password", "p1", "--db-password=p2", "--secret-key", "k", "--seed", "3"]) == [
        "x", "--password", "***", "--db-password=***", "--secret-key", "***", "--seed", "3"
    ]
    assert mask_secrets("mysql://root:pw9@db/shop?table=o and --token=tk1") == "mysql://root:***@db/shop?table=o and --token=***"
