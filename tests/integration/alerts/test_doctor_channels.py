"""`gunwatch doctor` on e-mail and webhook channels: a real SMTP server (aiosmtpd) and the local
webhook receiver; the checks connect but must never deliver anything."""

from __future__ import annotations

import socket
from pathlib import Path

from gunwatch.doctor import Doctor

from ...support.webhook_receiver import WebhookReceiver


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def channel_results(tmp_path: Path, channels: str) -> dict:
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "state").mkdir(exist_ok=True)
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n"
                      f"sources:\n  - {{type: folder, paths: [{tmp_path / 'in'}]}}\n"
                      f"alerts:\n  channels:\n{channels}")
    return {r.check: r for r in Doctor(str(config), None).run() if r.check.startswith("alerts.")}


def mail(name: str, port: int, security: str = "none") -> str:
    return (f"    {name}: {{type: email, host: 127.0.0.1, port: {port}, security: {security}, "
            f"from_address: gunwatch@example.org, recipients: [guard@example.org]}}\n")


def test_smtp_server_answering_passes_and_nothing_is_sent(tmp_path, smtp_server):
    mailbox, port = smtp_server
    results = channel_results(tmp_path, mail("up", port) + mail("tls", port, "starttls")
                              + mail("down", closed_port()))
    up = results["alerts.channels.up (email)"]
    assert up.state == "OK" and f"SMTP 127.0.0.1:{port} answers (none)" in up.detail, up
    tls = results["alerts.channels.tls (email)"]
    assert tls.state == "FAIL" and "does not support starttls" in tls.detail and "security" in tls.fix, tls
    down = results["alerts.channels.down (email)"]
    assert down.state == "FAIL" and "unreachable" in down.detail and "host/port" in down.fix, down
    assert mailbox.messages == []


def test_webhook_receiver_listening_passes_and_gets_no_request(tmp_path):
    with WebhookReceiver(secret=b"s") as receiver:
        results = channel_results(
            tmp_path, f"    hook: {{type: webhook, url: '{receiver.url}', secret: s}}\n"
                      f"    gone: {{type: webhook, url: 'http://127.0.0.1:{closed_port()}/x'}}\n")
        assert receiver.received == []
    hook = results["alerts.channels.hook (webhook)"]
    assert hook.state == "OK" and "accepts connections (no alert sent)" in hook.detail, hook
    assert "/hooks/gunwatch" not in hook.detail  # the path may hold the receiver's token
    gone = results["alerts.channels.gone (webhook)"]
    assert gone.state == "FAIL" and "cannot connect to 127.0.0.1" in gone.detail, gone
