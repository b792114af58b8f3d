"""Google credentials: where the file is, what kind it is, and what to warn about it."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import CaseloopError, OptionError

# Only the Sheets API: caseloop opens sheets by key and never needs Drive.
SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


@dataclass
class LoadedCredentials:
    """Credentials and what may be said about them (never the secret parts)."""

    credentials: Any  # google.auth.credentials.Credentials
    path: Path | None
    service_account_email: str | None = None
    warnings: list[str] = field(default_factory=list)


def credentials_path(
    explicit: str | None, defaults: Sequence[Path | str] | None = None
) -> Path | None:
    """``explicit`` (the credentials setting), else GOOGLE_APPLICATION_CREDENTIALS, else gspread's default files.

    ``defaults`` replaces gspread's default locations (for tests)."""
    if explicit:
        return Path(explicit).expanduser()
    from_env = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if from_env:
        return Path(from_env).expanduser()
    if defaults is None:
        from gspread.auth import DEFAULT_AUTHORIZED_USER_FILENAME, DEFAULT_SERVICE_ACCOUNT_FILENAME

        defaults = (DEFAULT_SERVICE_ACCOUNT_FILENAME, DEFAULT_AUTHORIZED_USER_FILENAME)
    for default in defaults:
        if Path(default).is_file():
            return Path(default)
    return None


def _read_credentials_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseloopError(f"The credentials file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not a text file"
        raise CaseloopError(f"The credentials file {path} cannot be read ({reason}).") from None
    try:
        info = json.loads(text)
    except ValueError:
        # The parser's message would quote the file's text, which may be a secret.
        raise CaseloopError(
            f"The credentials file {path} is not JSON; download the key again from Google Cloud."
        ) from None
    if not isinstance(info, dict):
        raise CaseloopError(
            f"The credentials file {path} is neither a service-account key nor "
            "authorized-user credentials."
        )
    return info


def load_credentials(
    explicit: str | None,
    *,
    build: bool = True,
    defaults: Sequence[Path | str] | None = None,
) -> LoadedCredentials:
    """Find and parse the credentials file; ``build=False`` only reads it (for the e-mail)."""
    path = credentials_path(explicit, defaults)
    if path is None:
        raise OptionError(
            "credentials",
            "No Google credentials found: pass {option} FILE (a service-account key or "
            "authorized-user JSON) or set GOOGLE_APPLICATION_CREDENTIALS.",
        )
    info = _read_credentials_json(path)
    loaded = LoadedCredentials(credentials=None, path=path)
    if os.name == "posix" and path.stat().st_mode & 0o004:
        loaded.warnings.append(
            f"The credentials file {path} can be read by every user of this computer; "
            f"run: chmod 600 {path}"
        )
    kind = info.get("type")
    if kind == "service_account":
        email = info.get("client_email")
        loaded.service_account_email = email if isinstance(email, str) else None
        if build:
            from google.oauth2 import service_account

            try:
                loaded.credentials = service_account.Credentials.from_service_account_info(
                    info, scopes=SCOPES
                )
            except (ValueError, KeyError, TypeError):
                # google-auth's message may describe the key; say only which file is damaged.
                raise CaseloopError(
                    f"The service-account key {path} is incomplete or damaged; download a new "
                    "key from Google Cloud."
                ) from None
    elif kind == "authorized_user":
        if build:
            from google.oauth2.credentials import Credentials as UserCredentials

            try:
                # The scopes granted at sign-in (gspread asks for Sheets and Drive) stay as they
                # are: asking for others at refresh time can be refused.
                loaded.credentials = UserCredentials.from_authorized_user_info(info)
            except (ValueError, KeyError, TypeError):
                raise CaseloopError(
                    f"The authorized-user credentials {path} are incomplete; sign in again."
                ) from None
    elif "installed" in info or "web" in info:
        raise CaseloopError(
            f"The credentials file {path} is an OAuth client ID, not credentials; use a "
            "service-account key, or an authorized_user.json made by signing in once."
        )
    else:
        raise CaseloopError(
            f"The credentials file {path} is neither a service-account key nor "
            "authorized-user credentials."
        )
    return loaded
