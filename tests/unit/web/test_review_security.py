"""The review pages off this machine: a login guards every page, forms carry a CSRF token,
snapshot links are signed one by one, and no secret of the config ever shows up in a page."""

from __future__ import annotations

import logging
import re

from gunwatch.web.app import link_signature

from .conftest import PASSWORD, TOKEN, sighting

T0 = 1_760_000_000.0


def login(client, **fields) -> object:
    client.get("/login")
    with client.session_transaction() as s:
        csrf = s["csrf"]
    return client.post("/login", data={"csrf": csrf, **fields})


def test_every_page_asks_for_the_login_but_healthz(guarded):
    sighting(guarded.sink, guarded.config.state_dir / "snapshots", "door", T0)
    for path in ("/", "/cameras", f"/incidents/door:{int(T0 * 1000)}:1", "/?state=open"):
        reply = guarded.client.get(path)
        assert reply.status_code == 302 and reply.location.startswith("/login?next=")
    for path in ("/metrics", f"/snapshots/door_{int(T0 * 1000)}_1-0.jpg", "/cameras/door/frame.jpg"):
        assert guarded.client.get(path).status_code == 401
    assert guarded.client.get("/healthz").status_code in (200, 503)
    assert guarded.client.get("/static/style.css").status_code == 200


def test_wrong_login_is_refused(guarded, caplog):
    caplog.set_level(logging.DEBUG)
    for fields in ({"token": "x" * 24}, {"user": "admin", "password": "wrong"},
                   {"user": "root", "password": PASSWORD}, {"token": ""}, {}):
        reply = login(guarded.client, **fields)
        assert reply.status_code == 401 and 'id="login-failed"' in reply.get_data(as_text=True)
        assert guarded.client.get("/").status_code == 302
    assert "failed login" in caplog.text and PASSWORD not in caplog.text


def test_token_login_opens_the_pages_and_logout_closes_them(guarded, caplog):
    caplog.set_level(logging.DEBUG)
    reply = login(guarded.client, token=TOKEN, next="/cameras")
    assert reply.status_code == 302 and reply.location == "/cameras"
    assert guarded.client.get("/").status_code == 200
    assert TOKEN not in caplog.text
    with guarded.client.session_transaction() as s:
        csrf = s["csrf"]
    guarded.client.post("/logout", data={"csrf": csrf})
    assert guarded.client.get("/").status_code == 302


def test_user_and_password_login_and_no_redirect_off_site(guarded):
    reply = login(guarded.client, user="admin", password=PASSWORD, next="//evil.example/x")
    assert reply.status_code == 302 and reply.location == "/"
    assert guarded.client.get("/cameras").status_code == 200


def test_login_form_needs_its_csrf_token(guarded):
    reply = guarded.client.post("/login", data={"token": TOKEN})
    assert reply.status_code == 403
    assert guarded.client.get("/").status_code == 302


def test_metrics_take_the_token_as_bearer(guarded):
    assert guarded.client.get("/metrics", headers={"Authorization": "Bearer wrong-token-wrong"}).status_code == 401
    reply = guarded.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200 and "gunwatch_incidents_total" in reply.get_data(as_text=True)


def test_a_signed_snapshot_link_opens_that_snapshot_only(guarded):
    sd = guarded.config.state_dir / "snapshots"
    sighting(guarded.sink, sd, "door", T0)
    sighting(guarded.sink, sd, "yard", T0 + 1)
    key = guarded.app.extensions["gunwatch"]["key"]
    door, yard = f"door_{int(T0 * 1000)}_1-0.jpg", f"yard_{int((T0 + 1) * 1000)}_1-0.jpg"
    assert guarded.client.get(f"/snapshots/{door}?sig={link_signature(key, door)}").status_code == 200
    assert guarded.client.get(f"/snapshots/{yard}?sig={link_signature(key, door)}").status_code == 401
    assert guarded.client.get(f"/snapshots/{door}?sig=0").status_code == 401
    # The signature opens no page, even on a path that names the file.
    assert guarded.client.get(f"/?sig={link_signature(key, door)}").status_code == 302


def test_no_secret_in_any_page(guarded):
    sd = guarded.config.state_dir / "snapshots"
    incident = sighting(guarded.sink, sd, "door", T0)
    secret_key = guarded.app.extensions["gunwatch"]["key"].hex()
    pages = [guarded.client.get(p) for p in ("/login", "/healthz")]
    login(guarded.client, token=TOKEN)
    with guarded.client.session_transaction() as s:
        csrf = s["csrf"]
    guarded.client.post("/review", data={"id": incident.id, "state": "false_alarm", "note": "x", "csrf": csrf})
    pages += [guarded.client.get(p) for p in ("/", "/?state=false_alarm", f"/incidents/{incident.id}",
                                              "/cameras", "/metrics", "/nope", "/?state=bad")]
    for page in pages:
        body = page.get_data(as_text=True)
        for secret in (TOKEN, PASSWORD, secret_key):
            assert secret not in body
        assert not re.search(r"Set-Cookie:.*" + re.escape(TOKEN), str(page.headers))
    html = pages[-5].get_data(as_text=True)
    assert "Content-Security-Policy" in pages[-5].headers and "frame-ancestors 'none'" in str(pages[-5].headers)
    assert "false alarm" in html


def test_session_cookie_is_http_only_and_same_site(guarded):
    reply = login(guarded.client, token=TOKEN)
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_secret_key_file_is_private_and_kept(guarded):
    path = guarded.config.state_dir / "web-secret"
    assert path.stat().st_mode & 0o077 == 0
    from gunwatch.web.app import secret_key

    assert secret_key(guarded.config.state_dir) == guarded.app.extensions["gunwatch"]["key"]


def test_redirects_stay_in_this_app(guarded):
    from gunwatch.web.app import local_path

    for target in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "evil", "/\t/evil.example", ""):
        assert local_path(target) == "/", target
    assert local_path("/?state=open&camera=door") == "/?state=open&camera=door"
    incident = sighting(guarded.sink, guarded.config.state_dir / "snapshots", "door", T0)
    login(guarded.client, token=TOKEN)
    with guarded.client.session_transaction() as s:
        csrf = s["csrf"]
    reply = guarded.client.post("/review", data={"id": incident.id, "state": "confirmed", "csrf": csrf,
                                                 "next": "/\\evil.example"})
    assert reply.status_code == 303 and reply.location == f"/incidents/{incident.id}"


def test_snapshots_are_cached_by_the_browser_only(review):
    sighting(review.sink, review.config.state_dir / "snapshots", "door", T0)
    reply = review.client.get(f"/snapshots/door_{int(T0 * 1000)}_1-0.jpg")
    assert reply.status_code == 200
    assert "private" in reply.headers["Cache-Control"] and "public" not in reply.headers["Cache-Control"]
    assert review.client.get("/").headers["Cache-Control"] == "no-store"


def test_repeated_wrong_logins_lock_the_address_out(guarded, monkeypatch):
    import gunwatch.web.app as web_app

    for _ in range(web_app.LOGIN_FAILURES):
        assert login(guarded.client, token="w" * 24).status_code == 401
    # Locked out: even the right token is not looked at now.
    assert login(guarded.client, token=TOKEN).status_code == 429
    assert guarded.client.get("/").status_code == 302
    monkeypatch.setattr(web_app, "LOGIN_WINDOW_S", 0.0)  # the failures have aged out
    assert login(guarded.client, token=TOKEN).status_code == 302
    assert guarded.client.get("/").status_code == 200


def test_session_cookie_is_secure_behind_https(tmp_path):
    from .conftest import make_review

    r = make_review(tmp_path, {"listen": "0.0.0.0", "token": TOKEN, "public_url": "https://nvr.example.org/gw"})
    try:
        cookie = login(r.client, token=TOKEN).headers["Set-Cookie"]
        assert "Secure" in cookie
    finally:
        r.sink.close()
        r.app.extensions["gunwatch"]["store"].close()
