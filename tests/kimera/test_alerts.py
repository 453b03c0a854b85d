"""Alerts against a local receiver: signed, retried with backoff, never blocking, secrets kept out."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from pydantic import SecretStr

from kimera.alerts import Alert, AlertSender, from_config, verify_signature
from kimera.alerts.channels import TelegramBot, Webhook
from kimera.config import ConfigError, load_config
from tests.conftest import REPO_ROOT
from tests.support.alert_receiver import alert_receiver

KEY = SecretStr("alert-signing-key-6f1e2d")
TOKEN = "123456:AAH-bot-token-never-logged-9c8b7a"


def _alert(i: int = 0, event: str = "fill") -> Alert:
    return Alert(event, f"bought 0.5 BTC #{i}", at=1_775_000_000.0 + i, details={"venue": "alpha", "n": i})


@pytest.fixture
def receiver():
    with alert_receiver() as r:
        yield r


def test_a_webhook_and_a_telegram_bot_receive_each_alert_signed(receiver):
    bot = TelegramBot(receiver.url, "42", SecretStr(TOKEN))
    with AlertSender([Webhook(f"{receiver.url}/hook"), bot], KEY) as sender:
        sender.send(_alert(1))
        hook, tg = receiver.wait_for(2)
    assert hook.path == "/hook" and json.loads(hook.body) == {
        "event": "fill", "title": "bought 0.5 BTC #1", "at": "2026-03-31T23:33:21Z",
        "details": {"venue": "alpha", "n": 1},
    }  # fmt: skip
    assert verify_signature(
        KEY, hook.headers["x-kimera-timestamp"], hook.body, hook.headers["x-kimera-signature"]
    )
    assert not verify_signature(SecretStr("another-key"), hook.headers["x-kimera-timestamp"], hook.body,
                                hook.headers["x-kimera-signature"])  # fmt: skip
    assert tg.path == f"/bot{TOKEN}/sendMessage"
    message = json.loads(tg.body)
    assert message["chat_id"] == "42" and message["text"].startswith("[kimera] fill: bought 0.5 BTC #1")
    assert verify_signature(KEY, tg.headers["x-kimera-timestamp"], tg.body, tg.headers["x-kimera-signature"])
    assert sender.stats.sent == 2 and sender.stats.failed == 0


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(receiver):
    receiver.fail_next, receiver.fail_status = 2, 503
    with AlertSender(
        [Webhook(receiver.url)], KEY, max_attempts=4, backoff_base_s=0.01, backoff_max_s=0.05
    ) as s:
        s.send(_alert())
        receiver.wait_for(3)
        assert s.flush(30)
    assert receiver.answered == [503, 503, 200] and (s.stats.sent, s.stats.retries, s.stats.failed) == (
        1,
        2,
        0,
    )
    # a request the receiver refuses (4xx) is not retried
    with alert_receiver() as refusing:
        refusing.fail_next, refusing.fail_status = 5, 400
        with AlertSender([Webhook(refusing.url)], KEY, backoff_base_s=0.01) as s:
            s.send(_alert())
            refusing.wait_for(1)
            assert s.flush(30)
        assert refusing.answered == [400] and (s.stats.sent, s.stats.failed, s.stats.retries) == (0, 1, 0)


def test_sending_never_waits_on_a_stuck_receiver_and_a_full_queue_drops_the_oldest(receiver):
    receiver.hold = threading.Event()
    sender = AlertSender([Webhook(receiver.url)], KEY, queue_size=3).start()
    try:
        sender.send(_alert(0))
        assert receiver.holding.wait(30)  # the first alert is stuck in the receiver
        for i in range(1, 6):  # five more while it is stuck: the queue holds 3
            sender.send(_alert(i))
        assert sender.stats.dropped == 2 and [a.details["n"] for a in sender.queue] == [3, 4, 5]
        receiver.hold.set()
        got = receiver.wait_for(4)
        assert sender.flush(30)
    finally:
        sender.close()
    assert [json.loads(r.body)["details"]["n"] for r in got] == [0, 3, 4, 5]
    assert "dropped=2" in repr(sender)


def test_the_bot_token_is_never_in_logs_reprs_or_errors(receiver, caplog, kimera_home, monkeypatch, tmp_path):
    caplog.set_level(logging.DEBUG)  # every logger, httpx's request lines included
    receiver.fail_next, receiver.fail_status = 10, 500
    bot = TelegramBot(receiver.url, "42", SecretStr(TOKEN))
    dead = TelegramBot("http://127.0.0.1:9", "42", SecretStr(TOKEN))  # nothing listens: connection refused
    with AlertSender([bot, dead], KEY, max_attempts=2, backoff_base_s=0.01) as sender:
        sender.send(_alert())
        receiver.wait_for(2)
        assert sender.flush(30)
        text = repr(sender) + repr(bot)
    assert sender.stats.failed == 2 and "gave up after 2 attempts" in caplog.text
    assert "HTTP Request" in caplog.text  # httpx did log its request line, masked
    for where in (caplog.text, text):
        assert TOKEN not in where and KEY.get_secret_value() not in where
    # from the config: a missing token is named by its secret's name, and a set one stays out of reprs
    config_path = tmp_path / "kimera.yaml"
    data = (REPO_ROOT / "kimera.yaml").read_text()
    config_path.write_text(data + f"\nalerts:\n  telegram: {{url: '{receiver.url}', chat_id: '42'}}\n")
    monkeypatch.setenv("KIMERA_SECRET_ALERTS_SIGNING_KEY", KEY.get_secret_value())
    config = load_config(config_path)
    with pytest.raises(
        ConfigError, match="the bot token is the secret 'telegram_bot_token', which is not set"
    ):
        from_config(config, kimera_home)
    monkeypatch.setenv("KIMERA_SECRET_TELEGRAM_BOT_TOKEN", TOKEN)
    sender = from_config(config, kimera_home)
    assert TOKEN not in repr(sender) and TOKEN not in repr(sender.channels)
