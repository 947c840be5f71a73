"""Alerts link their snapshot to the review pages when people can reach them: signed, so the
one picture opens without a login; never a 127.0.0.1 link, and an explicit base URL wins."""

from __future__ import annotations

from types import SimpleNamespace

from gunwatch.alerts.channel import create_channels
from gunwatch.app import App
from gunwatch.config import GunwatchConfig
from gunwatch.domain import BBox, Incident
from gunwatch.metrics import MetricsConfig
from gunwatch.web.app import link_signature

INCIDENT = Incident(id="door:1:1", camera="door", started_at=1.0, label="gun", confidence=0.9,
                    box=BBox(1, 2, 3, 4), snapshot="/var/lib/gunwatch/snapshots/door_1_1-0.jpg")
KEY = b"k" * 32


def linked(metrics: dict, alerts: dict | None = None, port: int = 9870) -> str | None:
    config = GunwatchConfig.model_validate({"metrics": metrics, "alerts": {
        "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:1/x"}}, **(alerts or {})}})
    channels = create_channels(config.alerts)
    web = SimpleNamespace(page_url=config.metrics.page_url(port), sign=lambda name: link_signature(KEY, name))
    fake_app = SimpleNamespace(alerts=SimpleNamespace(worker=SimpleNamespace(channels=channels)),
                               metrics=web, config=config)
    App.link_snapshots(fake_app)
    return channels["hook"].snapshot_url(INCIDENT)


def test_public_url_gives_signed_links():
    url = linked({"public_url": "https://nvr.example.org/gunwatch/"})
    assert url == f"https://nvr.example.org/gunwatch/snapshots/door_1_1-0.jpg?sig={link_signature(KEY, 'door_1_1-0.jpg')}"


def test_listen_address_is_the_default_page_url():
    url = linked({"listen": "192.0.2.7", "token": "t" * 20}, port=8123)
    assert url.startswith("http://192.0.2.7:8123/snapshots/door_1_1-0.jpg?sig=")


def test_no_link_when_only_this_machine_reaches_the_pages():
    assert linked({}) is None


def test_explicit_snapshot_base_url_wins():
    url = linked({"public_url": "https://nvr.example.org"}, {"snapshot_base_url": "https://files.example.org/s"})
    assert url == "https://files.example.org/s/door_1_1-0.jpg"


def test_page_url_of_every_address():
    assert MetricsConfig(listen="::1").page_url(1) is None
    assert MetricsConfig(listen="2001:db8::5", token="t" * 16).page_url(80) == "http://[2001:db8::5]:80"
    assert MetricsConfig(listen="0.0.0.0", token="t" * 16).page_url(80).endswith(":80")
