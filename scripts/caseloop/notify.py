"""Delivering alerts with Apprise: one URL per chat (wecombot://, feishu://, mailto://…).

The URLs carry secrets (bot keys, tokens, passwords): nothing here prints, logs or returns
one. A URL is shown as ``mask(url)`` (its scheme and host, when the host is a real host name)
and a service by its name; Apprise's own log is kept off the terminal.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .alerts import MAX_BYTES, split_message
from .errors import CaseloopError, OptionError

# Apprise tries a service this many more times when it fails (a 5xx, a lost connection),
# waiting this many seconds in between; a URL's own ?retry= and ?wait= win. A piece the
# service accepted is not sent again on a retry (Apprise keeps track).
RETRIES = 2
RETRY_WAIT = 1.0
# A WeCom robot's text message holds 2,048 bytes (its Markdown ones 4,096, but Apprise sends
# text): a digest is split further for it.
BYTE_LIMITS = {"wecombot": 2048}
# How long a service may take to answer, in seconds (Apprise's defaults are 4 to connect).
READ_TIMEOUT = 10.0

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,31}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def mask(url: str) -> str:
    """A URL as caseloop shows it: its scheme and host only, and the host only when it is a
    host name or an address (wecombot://KEY keeps its key where the host would be)."""
    text = str(url).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not _SCHEME.match(scheme):
        return "…"
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = netloc.rpartition("@")[2]  # user:password@ is never shown
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else ""
    else:
        host = host.partition(":")[0]
    shown = host.lower() if _is_host(host) else "…"
    return f"{scheme.lower()}://{shown}"


def _is_host(host: str) -> bool:
    if not host:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    if host.lower() == "localhost":
        return True
    labels = host.rstrip(".").split(".")
    # A name with a dot and a top-level domain of letters (hooks.slack.com): a token has none.
    return (
        len(labels) >= 2
        and all(_LABEL.match(label) for label in labels)
        and labels[-1].isalpha()
        and len(labels[-1]) >= 2
    )


@dataclass(frozen=True)
class Target:
    """A checked notification URL: its service, how it is shown, and Apprise's plugin for it."""

    service: str  # Apprise's name for the service: WeCom Bot, Feishu, E-Mail, JSON ...
    scheme: str
    shown: str  # mask(url)
    max_bytes: int = MAX_BYTES
    max_chars: int | None = None
    subject: bool = False  # the service needs a title (e-mail's subject line)
    plugin: Any = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """How messages name it: the service and the masked URL, never the secret."""
        return f"{self.service} ({self.shown})"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Delivery:
    """What ``deliver`` did: the targets (by ``Target.name``) that took every message, and
    those that did not."""

    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def quiet_apprise() -> None:
    """Keep Apprise's log (which can quote a URL) off stderr, whatever logging is set up."""
    logger = logging.getLogger("apprise")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    logger.setLevel(logging.CRITICAL + 1)


def split_urls(text: str | None) -> list[str]:
    """The URLs of CASELOOP_NOTIFY: separated by spaces or commas (a comma inside one URL,
    mailto://…?to=a@x.com,b@y.com, stays in it)."""
    if not text or not text.strip():
        return []
    from apprise.utils.parse import parse_urls

    return [str(u) for u in parse_urls(text) if str(u).strip()]


def _asset() -> Any:
    from apprise import AppriseAsset

    return AppriseAsset(
        default_service_retry=RETRIES, default_service_wait=RETRY_WAIT, secure_logging=True
    )


def check_urls(urls: Iterable[str], setting: str = "notify") -> list[Target]:
    """Every URL checked before anything is read: a wrong one raises CaseloopError (exit 2)
    naming its service or scheme, never its secret."""
    urls = list(urls)
    if not urls:
        return []
    quiet_apprise()
    from apprise import Apprise
    from apprise.manager_plugins import NotificationManager

    plugins = NotificationManager()
    asset = _asset()
    targets = []
    for url in urls:
        text = str(url).strip()
        if not text:
            raise OptionError.said_for(setting, "notify_empty")
        scheme, sep, _ = text.partition("://")
        if not sep or not _SCHEME.match(scheme):
            raise OptionError.said_for(setting, "notify_no_scheme")
        scheme = scheme.lower()
        try:
            plugin = Apprise.instantiate(text, asset=asset)
        except Exception:  # a plugin's own surprise: the URL is still not usable
            plugin = None
        if plugin is None:
            if scheme not in plugins:
                raise OptionError.said_for(setting, "notify_unknown", scheme=scheme)
            service = str(plugins[scheme].service_name)
            if not plugins[scheme].enabled:
                raise OptionError.said_for(
                    setting, "notify_disabled", service=service, scheme=scheme
                )
            raise OptionError.said_for(
                setting, "notify_incomplete", service=service, shown=mask(text)
            )
        # Apprise's wait for an answer, within reason: a cron run should not hang on a chat.
        plugin.socket_read_timeout = READ_TIMEOUT
        maxlen = int(getattr(plugin, "body_maxlen", 0) or 0)
        targets.append(
            Target(
                service=str(plugin.service_name),
                scheme=scheme,
                shown=mask(text),
                max_bytes=min(MAX_BYTES, BYTE_LIMITS.get(scheme, MAX_BYTES)),
                max_chars=maxlen if 0 < maxlen < MAX_BYTES else None,
                subject=type(plugin).__name__ == "NotifyEmail",
                plugin=plugin,
            )
        )
    return targets


def _subject(message: str) -> str:
    """An e-mail's subject: the message's first line, without its Markdown stars."""
    first = message.strip().split("\n", 1)[0]
    return first.replace("**", "").strip()[:200] or "caseloop"


def deliver(targets: Sequence[Target], messages: Sequence[str]) -> Delivery:
    """Send every message, in order, to every target; a target that refuses one (after
    Apprise's retries) is failed. Nothing is sent when there is no message."""
    delivered: list[str] = []
    failed: list[str] = []
    if not messages:
        return Delivery()
    quiet_apprise()
    from apprise import Apprise, NotifyFormat

    for target in targets:
        sender = Apprise(asset=target.plugin.asset)
        sender.add(target.plugin)
        pieces = [
            piece
            for message in messages
            for piece in split_message(message, target.max_bytes, target.max_chars)
        ]
        ok = True
        for piece in pieces:
            try:
                accepted = bool(
                    sender.notify(
                        body=piece,
                        title=_subject(piece) if target.subject else "",
                        body_format=NotifyFormat.MARKDOWN,
                    )
                )
            except Exception:  # whatever broke, say which service, never how (it may quote the URL)
                accepted = False
            if not accepted:
                ok = False
                break
        (delivered if ok else failed).append(target.name)
    return Delivery(delivered=delivered, failed=failed)


class NotDeliveredError(CaseloopError):
    """The tab was written but an alert was not delivered: exit 3."""

    exit_code = 3


def not_delivered(delivery: Delivery, key: str = "not_delivered") -> NotDeliveredError:
    """The exit-3 error naming the services that did not take the alerts."""
    return NotDeliveredError.said(key, services=", ".join(delivery.failed))
