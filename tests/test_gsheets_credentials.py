"""Finding and checking Google credentials, and telling a Google Sheet address from a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caseloop.backends import is_google
from caseloop.backends.gsheets import (
    credentials_path,
    load_credentials,
    spreadsheet_key,
)
from caseloop.errors import CaseloopError, OptionError

pytest_plugins = ["fakesheets.fixtures"]

AUTHORIZED_USER = {
    "type": "authorized_user",
    "client_id": "123.apps.googleusercontent.com",
    "client_secret": "not-a-real-secret",
    "refresh_token": "1//not-a-real-token",
}


def write(path: Path, content: object, mode: int = 0o600) -> Path:
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("log", "key"),
    [
        ("https://docs.google.com/spreadsheets/d/1AbC-_9/edit#gid=0", "1AbC-_9"),
        ("http://docs.google.com/spreadsheets/d/1AbC/", "1AbC"),
        ("https://docs.google.com/spreadsheets/u/0/d/1AbC/edit", "1AbC"),
        ("gsheet:1AbC", "1AbC"),
    ],
)
def test_google_addresses(log: str, key: str) -> None:
    assert is_google(log)
    assert spreadsheet_key(log) == key


@pytest.mark.parametrize(
    "log", ["cases.xlsx", "C:\\logs\\cases.xlsx", "https://example.com/d/x", "gsheet"]
)
def test_files_are_not_google_addresses(log: str) -> None:
    assert not is_google(log)


def test_a_bad_gsheet_key_is_one_sentence() -> None:
    with pytest.raises(CaseloopError, match="is not a Google Sheets address"):
        spreadsheet_key("gsheet:has spaces")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        CaseloopError, match=r"^The credentials file .*nope\.json does not exist\.$"
    ):
        load_credentials(str(tmp_path / "nope.json"))


def test_not_json_does_not_echo_the_content(tmp_path: Path) -> None:
    path = write(tmp_path / "sa.json", "-----BEGIN PRIVATE KEY-----\nsecret-bits\n")
    with pytest.raises(CaseloopError) as failed:
        load_credentials(str(path))
    assert "is not JSON" in str(failed.value)
    assert "secret-bits" not in str(failed.value)


@pytest.mark.parametrize("content", [{"type": "external_account_x"}, ["a", "list"], {}])
def test_neither_kind(tmp_path: Path, content: object) -> None:
    path = write(tmp_path / "creds.json", content)
    with pytest.raises(CaseloopError, match="neither a service-account key nor authorized-user"):
        load_credentials(str(path))


def test_an_oauth_client_id_is_named_as_such(tmp_path: Path) -> None:
    path = write(tmp_path / "client.json", {"installed": {"client_id": "x"}})
    with pytest.raises(CaseloopError, match="is an OAuth client ID, not credentials"):
        load_credentials(str(path))


def test_a_damaged_service_account_key(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sa.json",
        {
            "type": "service_account",
            "client_email": "x@y.iam.gserviceaccount.com",
            "private_key": "garbage",
        },
    )
    with pytest.raises(CaseloopError) as failed:
        load_credentials(str(path))
    assert "incomplete or damaged" in str(failed.value)
    assert "garbage" not in str(failed.value)


def test_authorized_user_credentials_load_without_network(tmp_path: Path, no_network: None) -> None:
    loaded = load_credentials(str(write(tmp_path / "user.json", AUTHORIZED_USER)))
    assert loaded.credentials.refresh_token == AUTHORIZED_USER["refresh_token"]
    assert loaded.service_account_email is None
    assert loaded.warnings == []


def test_service_account_email_is_read_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "sa.json",
        {"type": "service_account", "client_email": "bot@p.iam.gserviceaccount.com"},
    )
    assert (
        load_credentials(str(path), build=False).service_account_email
        == "bot@p.iam.gserviceaccount.com"
    )


def test_world_readable_credentials_are_warned_about(tmp_path: Path) -> None:
    path = write(tmp_path / "user.json", AUTHORIZED_USER, mode=0o644)
    (warning,) = load_credentials(str(path)).warnings
    assert "can be read by every user" in warning and "chmod 600" in warning
    assert AUTHORIZED_USER["refresh_token"] not in warning


def test_order_flag_then_environment_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = write(tmp_path / "flag.json", AUTHORIZED_USER)
    env = write(tmp_path / "env.json", AUTHORIZED_USER)
    default = write(tmp_path / "service_account.json", AUTHORIZED_USER)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(env))
    assert credentials_path(str(flag), [default]) == flag
    assert credentials_path(None, [default]) == env
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS")
    assert credentials_path(None, [tmp_path / "absent.json", default]) == default
    assert credentials_path(None, [tmp_path / "absent.json"]) is None


def test_no_credentials_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    with pytest.raises(OptionError) as refused:
        load_credentials(None, defaults=[tmp_path / "absent.json"])
    # The library names the setting; the CLI spells its option.
    assert str(refused.value.for_option("--credentials")).startswith(
        "No Google credentials found: pass --credentials FILE"
    )
