"""Delivering alerts with Apprise over real sockets on 127.0.0.1 (no internet): a JSON and a
form webhook, a receiver that fails then recovers, an SMTP server; URLs checked before the log
is read; the URL's secret never printed; report --notify and notify --test through the CLI."""

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import apprise
import openpyxl
import pytest
from click.testing import CliRunner
from receivers import free_port

from caseloop.cli import main
from caseloop.engine import Settings
from caseloop.errors import CaseloopError
from caseloop.notify import Delivery, check_urls, deliver, mask, split_urls

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECRET = "S3CRETtoken9"


def run(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


MESSAGES = [
    "**caseloop: 1 case(s) to act on**\n\n- **DEADLINE** · 17347636172 · 星辰家居（英国）\n\n"
    "Status tab: out/case_log.xlsx",
    "second message",
]


# --- mask and check --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        (f"wecombot://{SECRET}", "wecombot://…"),
        (f"tgram://123456789:{SECRET}/-100123", "tgram://…"),
        (f"dingtalk://{SECRET}@{SECRET}/", "dingtalk://…"),
        (f"slack://T1JJ3T3L2/A1BRTD4JD/{SECRET}", "slack://…"),
        (
            f"mailto://user:{SECRET}@smtp.example.com:587?to=a@example.com",
            "mailto://smtp.example.com",
        ),
        (f"json://127.0.0.1:8080/hook?token={SECRET}", "json://127.0.0.1"),
        (f"jsons://{SECRET}@hooks.Example.com/{SECRET}", "jsons://hooks.example.com"),
        (
            f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={SECRET}",
            "https://qyapi.weixin.qq.com",
        ),
        (SECRET, "…"),
    ],
)
def test_mask_keeps_the_scheme_and_a_real_host_only(url, shown):
    assert mask(url) == shown


def test_checked_targets_name_the_service_and_never_hold_the_secret_in_text():
    targets = check_urls(
        [f"wecombot://{SECRET}", f"feishu://{SECRET}", f"mailto://u:{SECRET}@smtp.example.com"]
    )
    assert [t.name for t in targets] == [
        "WeCom Bot (wecombot://…)",
        "Feishu (feishu://…)",
        "E-Mail (mailto://smtp.example.com)",
    ]
    assert targets[0].max_bytes == 2048  # a WeCom robot's text message
    for target in targets:
        assert SECRET not in repr(target) and SECRET not in str(target)
    settings = Settings(log="x.xlsx", notify=(f"wecombot://{SECRET}",))
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    "url, said",
    [
        ("", "--notify is empty"),
        (SECRET, "--notify was given something that is not a notification URL"),
        (f"xyz://{SECRET}", "caseloop does not know the notification service xyz://"),
        ("wecombot://", "the WeCom Bot URL wecombot://… is incomplete or not valid"),
        (f"tgram://{SECRET}", "the Telegram URL tgram://… is incomplete or not valid"),
    ],
)
def test_a_bad_url_is_refused_before_the_log_is_read_and_its_secret_is_not_shown(
    tmp_path, url, said
):
    # The log does not exist: had caseloop read it first, the error would be about the file.
    missing = tmp_path / "no-such-log.xlsx"
    for command in ("sync", "report"):
        result = run(command, missing, "--notify", url)
        assert result.exit_code == 2, result.output
        assert said in result.output and "no-such-log" not in result.output
        assert SECRET not in result.output


def test_the_environment_variable_gives_the_urls_and_is_named_when_wrong(tmp_path):
    result = run("sync", tmp_path / "none.xlsx", env={"CASELOOP_NOTIFY": f"xyz://{SECRET}"})
    assert result.exit_code == 2
    assert result.output.startswith("caseloop: CASELOOP_NOTIFY: caseloop does not know")
    assert SECRET not in result.output
    urls = "wecombot://KEY1, json://127.0.0.1/a mailto://h.example.com?to=a@x.com,b@y.com"
    assert split_urls(urls) == [
        "wecombot://KEY1",
        "json://127.0.0.1/a",
        "mailto://h.example.com?to=a@x.com,b@y.com",
    ]


def test_check_raises_a_caseloop_error_with_exit_2():
    with pytest.raises(CaseloopError) as caught:
        check_urls(["nope"])
    assert caught.value.exit_code == 2


# --- every service the README shows -------------------------------------------------------------

SERVICES = (
    "wecombot",
    "feishu",
    "lark",
    "dingtalk",
    "slack",
    "workflows",
    "tgram",
    "mailto",
    "json",
)


def readme_urls() -> list[str]:
    """The example URLs of the README's table of services (English and Chinese)."""
    urls = []
    for title in ("**Services and their URLs**", "### 提醒："):
        table = README.split(title, 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
        urls += re.findall(r"`([a-z]+://[^`\s]+)`", table)
    return urls


def test_every_service_in_the_readme_parses_and_the_list_is_complete():
    urls = readme_urls()
    assert len(urls) >= 20
    assert {u.split("://")[0] for u in urls} >= set(SERVICES)
    for url in urls:
        assert apprise.Apprise().add(url), url
        assert check_urls([url])  # and caseloop takes it


# --- real deliveries ----------------------------------------------------------------------------


@pytest.mark.slow
def test_json_and_form_webhooks_receive_the_text(receiver):
    hook = receiver()
    targets = check_urls([hook.url("json"), hook.url("form", "/form")])
    delivery = deliver(targets, MESSAGES)
    assert delivery == Delivery(
        delivered=["JSON (json://127.0.0.1)", "Form (form://127.0.0.1)"], failed=[]
    )
    assert delivery.ok
    assert hook.accepted() == [*MESSAGES, *MESSAGES]  # in order, each once, Chinese intact
    assert [r["path"] for r in hook.requests] == ["/hook", "/hook", "/form", "/form"]


@pytest.mark.slow
def test_a_receiver_that_fails_then_recovers_gets_the_message_once(receiver):
    hook = receiver(codes=[500])
    delivery = deliver(check_urls([hook.url()]), MESSAGES[:1])
    assert delivery.ok
    assert [r["code"] for r in hook.requests] == [500, 200]  # retried
    assert hook.accepted() == MESSAGES[:1]  # delivered once, not twice


@pytest.mark.slow
def test_a_receiver_that_keeps_failing_is_named_and_the_others_still_get_it(receiver):
    down, up = receiver(codes=[503] * 10), receiver()
    delivery = deliver(check_urls([down.url(), up.url("form")]), MESSAGES[:1])
    assert not delivery.ok
    assert delivery.failed == ["JSON (json://127.0.0.1)"]
    assert delivery.delivered == ["Form (form://127.0.0.1)"]
    assert len(down.requests) == 3  # the first try and two retries
    assert up.accepted() == MESSAGES[:1]


@pytest.mark.slow
def test_a_wecom_sized_service_gets_a_long_message_in_pieces(receiver, monkeypatch):
    hook = receiver()
    [target] = check_urls([hook.url()])
    long = "\n".join(f"- 星辰家居 第 {i} 行 " + "案" * 40 for i in range(40))
    small = type(target)(**{**target.__dict__, "max_bytes": 2048})
    assert deliver([small], [long]).ok
    pieces = hook.accepted()
    assert len(pieces) >= 3 and all(len(p.encode("utf-8")) <= 2048 for p in pieces)
    assert "\n".join(pieces) == long


@pytest.mark.slow
def test_mailto_delivers_subject_and_body_to_an_smtp_server():
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.mail = []

        async def handle_DATA(self, server, session, envelope):
            self.mail.append(envelope)
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        url = (
            f"mailto://127.0.0.1:{port}?from=caseloop@example.com&to=team@example.com&mode=insecure"
        )
        delivery = deliver(check_urls([url]), MESSAGES[:1])
    finally:
        controller.stop()
    assert delivery.delivered == ["E-Mail (mailto://127.0.0.1)"]
    [envelope] = inbox.mail
    assert envelope.rcpt_tos == ["team@example.com"]
    import email
    from email import policy

    mail = email.message_from_bytes(envelope.content, policy=policy.default)
    assert mail["Subject"] == "caseloop: 1 case(s) to act on"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "17347636172 · 星辰家居（英国）" in text and "Status tab: out/case_log.xlsx" in text
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert "<strong>DEADLINE</strong>" in html  # the Markdown as e-mail shows it


@pytest.mark.slow
def test_apprise_never_writes_the_url_to_stderr_even_with_logging_on(receiver, capfd):
    logging.basicConfig(level=logging.DEBUG)  # a program that embeds caseloop and logs all
    try:
        down = receiver(codes=[500] * 10)
        url = down.url("json", f"/{SECRET}?-X-Token={SECRET}")
        assert not deliver(check_urls([url]), ["hello"]).ok
        with pytest.raises(CaseloopError):
            check_urls([f"tgram://{SECRET}"])
    finally:
        logging.getLogger().handlers.clear()
        logging.getLogger().setLevel(logging.WARNING)
    out, err = capfd.readouterr()
    assert SECRET not in out and SECRET not in err


# --- the CLI --------------------------------------------------------------------------------------


@pytest.fixture
def demo(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_report_notify_delivers_the_weekly_digest_after_writing_the_tab(demo, receiver):
    hook = receiver()
    result = run(
        "report",
        "sample_data/case_log.xlsx",
        "--now",
        "2026-11-20T18:00",
        "--output",
        "out/case_log.xlsx",
        "--notify",
        hook.url(),
    )
    assert result.exit_code == 0, result.output
    assert "Sent the weekly digest to JSON (json://127.0.0.1)." in result.output
    [digest] = hook.accepted()
    assert digest.startswith("**caseloop weekly: 2026-W46 (2026-11-09 to 2026-11-15)**")
    assert "- Opened: 17 (week before: 6)" in digest
    assert digest.endswith("Weekly Summary tab: out/case_log.xlsx")
    assert "Weekly Summary" in openpyxl.load_workbook("out/case_log.xlsx").sheetnames


@pytest.mark.slow
def test_report_exits_3_when_the_digest_is_not_delivered_and_the_tab_stays_written(demo, receiver):
    down = receiver(codes=[500] * 10)
    result = run(
        "report",
        "sample_data/case_log_zh.xlsx",
        "--now",
        "2026-11-20T18:00",
        "--output",
        "out/zh.xlsx",
        "--notify",
        down.url("json", f"/{SECRET}"),
    )
    assert result.exit_code == 3, result.output
    assert (
        "caseloop: 已写入；周报摘要未能发送到 JSON (json://127.0.0.1)；请重新运行 caseloop report 发送。"
        in result.output
    )
    assert SECRET not in result.output
    assert "周报" in openpyxl.load_workbook("out/zh.xlsx").sheetnames
    # The digest was in the log's language.
    assert json.loads(down.requests[0]["body"])["message"].startswith("**caseloop 周报：")


@pytest.mark.slow
def test_notify_test_sends_one_line_and_says_so(receiver):
    hook, down = receiver(), receiver(codes=[500] * 10)
    result = run("notify", "--test", hook.url())
    assert result.exit_code == 0
    assert result.output == "Delivered to JSON (json://127.0.0.1).\n"
    assert hook.accepted() == ["caseloop test message: this chat will receive caseloop's alerts."]
    result = run("notify", "--test", hook.url("form"), "--lang", "zh")
    assert result.exit_code == 0 and result.output == "已发送到 Form (form://127.0.0.1)。\n"
    assert hook.accepted()[-1] == "caseloop 测试消息：本群将收到 caseloop 的提醒。"
    result = run("notify", "--test", down.url())
    assert result.exit_code == 3
    assert result.output.startswith("Not delivered to JSON (json://127.0.0.1): the service")
    assert run("notify", "--test", f"xyz://{SECRET}").exit_code == 2
    no_url = run("notify", env={"CASELOOP_NOTIFY": ""})
    assert no_url.exit_code == 2 and "Give the URL to test with --test URL" in no_url.output


@pytest.mark.slow
def test_no_secret_reaches_the_terminal_of_a_real_process(receiver):
    down = receiver(codes=[500] * 10)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    for url in (down.url("json", f"/{SECRET}?-X-Token={SECRET}"), f"wecombot://{SECRET}-x!"):
        done = subprocess.run(
            [sys.executable, "-m", "caseloop", "notify", "--test", url],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode in (2, 3), done.stderr
        assert SECRET not in done.stdout + done.stderr
        assert "json://127.0.0.1" in done.stderr or "wecombot://…" in done.stderr
