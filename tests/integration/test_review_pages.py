"""The review pages of a running `gunwatch run` (folder source, bundled gun model, drawn pistol).

In a real browser (Debian's headless chromium through selenium): the page shows the incident with
its thumbnail and alert, a click on False alarm changes its state and writes the negative; the
webhook's snapshot link opens that picture without a login. Over plain HTTP: listening on every
interface, the pages ask for the login, which the log never shows."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ..conftest import REPO, need
from ..support.ports import free_port
from ..support.wait import wait_for
from ..support.webhook_receiver import WebhookReceiver

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture
def browser():
    need(CHROMIUM.exists() and CHROMEDRIVER.exists(),
         "no chromium/chromedriver (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        need(False, "selenium missing (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_false_alarm_click_in_a_real_browser(tmp_path, browser):
    pistol = REPO / "models" / "drawn-pistol.jpg"
    watched, state = tmp_path / "in", tmp_path / "state"
    watched.mkdir()
    port = free_port()
    log_path = tmp_path / "gunwatch.log"
    with WebhookReceiver() as hook:
        config = tmp_path / "gunwatch.yml"
        config.write_text(f"""
state_dir: {state}
metrics: {{port: {port}, public_url: "http://127.0.0.1:{port}"}}
detector: {{backend: opencv}}
sources: [{{type: folder, paths: [{watched}], camera: lobby, settle_s: 0.1}}]
alerts:
  channels:
    guard-desk: {{type: webhook, url: "{hook.base_url}/gunwatch"}}
""")
        with open(log_path, "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "gunwatch", "run", "--config", str(config), "--for", "240"],
                                       stdout=subprocess.DEVNULL, stderr=log, env=dict(os.environ))
        text = lambda: log_path.read_text(errors="replace")  # noqa: E731
        try:
            assert wait_for(lambda: "watching" in text(), 60), text()
            shutil.copyfile(pistol, watched / "cam1-0001.jpg")
            assert wait_for(lambda: hook.received, 90), text()
            alert = hook.received[0]["body"]["incident"]
            assert alert["camera"] == "lobby"

            # The alert's snapshot link points at the review pages and opens without a login.
            link = alert["snapshot_url"]
            assert link.startswith(f"http://127.0.0.1:{port}/snapshots/") and "?sig=" in link
            with urllib.request.urlopen(link, timeout=10) as reply:
                assert reply.headers["Content-Type"] == "image/jpeg" and reply.read(2) == b"\xff\xd8"

            browser.get(f"http://127.0.0.1:{port}/")
            row = browser.find_element("css selector", "li.incident")
            assert row.get_attribute("data-id") == alert["id"]
            assert "lobby" in row.text and "gun" in row.text and "open" in row.text
            assert "guard-desk" in row.text  # the delivery from the outbox
            thumb = row.find_element("css selector", ".thumb img")
            assert wait_for(lambda: browser.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", thumb), 10) == 320
            browser.save_screenshot(str(tmp_path / "incidents-open.png"))

            row.find_element("css selector", "button.no").click()
            # Found and read in one script: the page swaps the row for a new one when the verdict
            # lands, so an element found in one call can be gone by the next (stale element).
            row_class = "const row = document.querySelector('li.incident'); return row ? row.className : '';"
            assert wait_for(lambda: "state-false_alarm" in browser.execute_script(row_class), 10)
            row = browser.find_element("css selector", "li.incident")
            assert "false alarm" in row.text and not row.find_elements("css selector", "button.no")
            browser.save_screenshot(str(tmp_path / "incidents.png"))

            negatives = sorted((state / "negatives").glob("*.jpg"))
            assert len(negatives) == 1, list((state / "negatives").iterdir())
            sidecar = json.loads(negatives[0].with_suffix(".json").read_text())
            assert sidecar["camera"] == "lobby" and sidecar["model"] == "gun-tiny-ensemble"
            assert len(sidecar["false_boxes"]) == 1 and sidecar["false_boxes"][0][2] > 50

            row.find_element("css selector", "a.when").click()
            assert browser.find_element("id", "state").text == "false alarm"
            assert "gun-free picture" in browser.find_element("id", "negatives").text
            browser.set_window_size(412, 1000)  # a phone's width
            browser.save_screenshot(str(tmp_path / "incident-phone.png"))
            scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
            assert scroll_width <= 412, "the page is wider than a phone screen"
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"screenshots in {tmp_path}")


def test_review_pages_off_this_machine_ask_for_the_login_and_never_log_it(tmp_path):
    """`gunwatch run` listening on every interface with a token from the environment file: pages
    redirect to the login, Prometheus gets in with the token as Bearer, the incident is listed
    after the login, and the token is in no log line."""
    import http.cookiejar
    import re
    import urllib.parse

    token = "review-token-5c1e0b7d9a2f4e63"
    pistol = REPO / "models" / "drawn-pistol.jpg"
    watched, state = tmp_path / "in", tmp_path / "state"
    watched.mkdir()
    port = free_port()
    (tmp_path / "environment").write_text(f"GUNWATCH_WEB_TOKEN={token}\n")
    config = tmp_path / "gunwatch.yml"
    config.write_text(f"""
state_dir: {state}
metrics: {{listen: 0.0.0.0, port: {port}, token: "${{GUNWATCH_WEB_TOKEN}}"}}
detector: {{backend: opencv}}
sources: [{{type: folder, paths: [{watched}], camera: lobby, settle_s: 0.1}}]
""")
    log_path = tmp_path / "gunwatch.log"
    env = {k: v for k, v in os.environ.items() if k != "GUNWATCH_WEB_TOKEN"}
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "gunwatch", "--log-level", "DEBUG", "run", "--config",
                                    str(config), "--for", "120"], stdout=log, stderr=log, env=env)
    text = lambda: log_path.read_text(errors="replace")  # noqa: E731
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: "watching" in text(), 60), text()
        shutil.copyfile(pistol, watched / "cam1-0001.jpg")
        assert wait_for(lambda: (state / "incidents.jsonl").exists() and (state / "incidents.jsonl").read_text(), 60), text()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args):
                return None

        jar = http.cookiejar.CookieJar()
        plain = urllib.request.build_opener(NoRedirect, urllib.request.HTTPCookieProcessor(jar))
        try:
            plain.open(f"{base}/", timeout=10)
            raise AssertionError("the incidents page opened without a login")
        except urllib.error.HTTPError as exc:
            assert exc.code == 302 and exc.headers["Location"].startswith("/login")
        try:
            urllib.request.urlopen(f"{base}/metrics", timeout=10)
            raise AssertionError("/metrics opened without the token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        scrape = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert "gunwatch_incidents_total 1.0" in urllib.request.urlopen(scrape, timeout=10).read().decode()

        form = plain.open(f"{base}/login", timeout=10).read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        data = urllib.parse.urlencode({"csrf": csrf, "token": token, "next": "/"}).encode()
        try:
            plain.open(f"{base}/login", data=data, timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 302  # logged in, sent back to the page
        page = plain.open(f"{base}/", timeout=10).read().decode()
        assert 'data-id="lobby:' in page and "gun 99" in page and token not in page
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "login (token)" in text() and token not in text()
