"""The Flask app: incident review pages at `/`, snapshots, `/metrics` and `/healthz`.

Pages are rendered on the server (Jinja2) with one small stylesheet and no script, so they work
on a phone at 3 a.m. and need nothing from the internet. Off this machine every page asks for a
login (token or user and password from the config); `/healthz` stays open for probes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlencode

import cv2
import numpy as np
from flask import Flask, Response, abort, redirect, render_template, request, send_file, session, url_for
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import Metric

from .. import metrics
from ..alerts.channel import mask
from ..alerts.outbox import outbox_path
from .negatives import remove_negatives, write_negatives
from .sink import ReviewSink, review_paths
from .store import STATE_NAMES, STATES, ReviewStore

log = logging.getLogger(__name__)

PAGE_SIZE = 50
THUMB_WIDTH = 320
# Snapshot and frame files are named by the runner from untrusted.file_name(): nothing else is served.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}\.jpg$")
_OPEN_ENDPOINTS = {"login", "healthz", "static"}


LOGIN_FAILURES = 5        # wrong logins from one address ...
LOGIN_WINDOW_S = 300.0    # ... within this many seconds lock it out until the oldest expires


class LoginFailures:
    """Recent failed logins per client address: beyond LOGIN_FAILURES in LOGIN_WINDOW_S, further
    tries are refused without being checked, so a token cannot be guessed at network speed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str) -> list[float]:
        now = self.clock()
        recent = [t for t in self._seen.get(address, []) if now - t < LOGIN_WINDOW_S]
        if recent:
            self._seen[address] = recent
        else:
            self._seen.pop(address, None)
        return recent

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address)) >= LOGIN_FAILURES

    def add(self, address: str) -> None:
        with self._lock:
            self._seen[address] = self._recent(address) + [self.clock()]


def secret_key(state_dir: Path) -> bytes:
    """The key that signs sessions and snapshot links, kept in the state dir (0600) so that a
    restart neither logs everybody out nor breaks links already sent."""
    path = state_dir / "web-secret"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    key = secrets.token_bytes(32)
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def link_signature(key: bytes, name: str) -> str:
    """What lets one snapshot be fetched without a login (an MMS provider, a link in an e-mail)."""
    return hmac.new(key, b"snapshot:" + name.encode(), hashlib.sha256).hexdigest()[:32]


def safe_file(folder: Path, name: str) -> Path | None:
    """`folder/name` when `name` is a plain snapshot file name inside `folder`, else None."""
    if not _SAFE_NAME.match(name):
        return None
    base = folder.resolve()
    path = (base / name).resolve()
    if path.parent != base or not path.is_file():
        return None
    return path


def local_path(target: str, default: str = "/") -> str:
    """`target` when it is a path of this app, else `default`: never a redirect to another site
    (`//host`, and `/\\host`, which browsers read as `//host`)."""
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(c) < 32 for c in target)):
        return default
    return target


def _when(epoch: float | None) -> str:
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S") if epoch else ""


def deliveries(config, incident_ids: list[str], detail: bool = False) -> dict[str, list[dict]]:
    """Alert rows of these incidents from the outbox, recipients masked; empty without an outbox."""
    path = outbox_path(config)
    if not incident_ids or not path.is_file():
        return {}
    found: dict[str, list[dict]] = {}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        marks = ",".join("?" * len(incident_ids))
        rows = db.execute(
            "SELECT incident_id, channel, recipient, state, attempts, reason, updated_at, sent_at FROM alerts"
            f" WHERE incident_id IN ({marks}) ORDER BY id", incident_ids).fetchall()
    except sqlite3.Error as exc:
        log.warning("review page: cannot read the alert outbox %s: %s", path, exc)
        return {}
    finally:
        db.close()
    for iid, channel, recipient, state, attempts, reason, updated_at, sent_at in rows:
        row = {"channel": channel, "recipient": mask(recipient), "state": state}
        if detail:
            row.update(attempts=attempts, reason=reason, updated=_when(updated_at), sent=_when(sent_at))
        found.setdefault(iid, []).append(row)
    return found


def create_app(config_of: Callable[[], object], runner_of: Callable[[], object],
               extra_metrics: Callable[[], Iterable[Metric]] | None = None) -> Flask:
    """The app of one running gunwatch; `config_of` and `runner_of` give the current config and
    runner (a reload replaces both)."""
    app = Flask(__name__)
    # A doubled slash is not redirected to a guessed path: /snapshots//etc/passwd is simply not found.
    app.url_map.merge_slashes = False
    state_dir: Path = config_of().state_dir
    key = secret_key(state_dir)
    app.secret_key = key
    public = config_of().metrics.public_url
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                      SESSION_COOKIE_NAME="gunwatch_session", MAX_CONTENT_LENGTH=64 * 1024,
                      # People come in over https (a proxy in front): the cookie never goes over http.
                      SESSION_COOKIE_SECURE=public is not None and public.scheme == "https")
    failures = LoginFailures()
    db_path, frames_dir, negatives_dir = review_paths(state_dir)
    store = ReviewStore(db_path)
    snapshot_dir = state_dir / "snapshots"
    thumbs_dir = state_dir / "review" / "thumbs"
    registry = metrics.registry(runner_of, extra_metrics)
    app.extensions["gunwatch"] = {"store": store, "key": key}
    app.jinja_env.globals.update(when=_when, state_names=STATE_NAMES, states=STATES)

    def web():
        return config_of().metrics

    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    app.jinja_env.globals["csrf_token"] = csrf_token

    def bearer_ok() -> bool:
        token = web().token
        given = request.headers.get("Authorization", "")
        return (token is not None and given.startswith("Bearer ")
                and hmac.compare_digest(given[7:].encode(), token.get_secret_value().encode()))

    def signed_snapshot() -> bool:
        name, sig = request.view_args.get("name", "") if request.view_args else "", request.args.get("sig", "")
        return (request.endpoint == "snapshot" and bool(sig)
                and hmac.compare_digest(sig, link_signature(key, name)))

    @app.before_request
    def guard():
        if request.method == "POST":
            sent = request.form.get("csrf", "")
            if not sent or "csrf" not in session or not hmac.compare_digest(sent, session["csrf"]):
                abort(403, "the form was stale or not sent by this page (CSRF check); reload the page and try again")
        if request.endpoint in _OPEN_ENDPOINTS or not web().login_required:
            return None
        if session.get("user") or bearer_ok() or signed_snapshot():
            return None
        if request.method == "GET" and request.endpoint not in ("metrics", "snapshot", "camera_frame"):
            return redirect(url_for("login", next=request.full_path.rstrip("?")))
        abort(401)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self'; style-src 'self'; form-action 'self';"
                                    " frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint not in ("static", "snapshot", "camera_frame"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(429)
    @app.errorhandler(401)
    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(400)
    def error(exc):
        return render_template("error.html", code=exc.code, message=exc.description), exc.code

    # --- login -----------------------------------------------------------------------

    @app.route("/login", methods=["GET", "POST"])
    def login():
        cfg = web()
        target = local_path(request.values.get("next", "/"))
        if not cfg.login_required:
            return redirect(target)
        failed = False
        address = request.remote_addr or "?"
        if request.method == "POST" and failures.blocked(address):
            log.warning("review pages: login from %s refused, %d failures in %.0f s", address,
                        LOGIN_FAILURES, LOGIN_WINDOW_S)
            abort(429)
        if request.method == "POST":
            token, user, password = (request.form.get(k, "") for k in ("token", "user", "password"))
            ok_token = bool(token) and cfg.token is not None and hmac.compare_digest(
                token.encode(), cfg.token.get_secret_value().encode())
            ok_user = (bool(user) and cfg.user is not None and cfg.password is not None
                       and hmac.compare_digest(user.encode(), cfg.user.encode())
                       & hmac.compare_digest(password.encode(), cfg.password.get_secret_value().encode()))
            if ok_token or ok_user:
                session.clear()
                session["user"] = cfg.user if ok_user else "token"
                session["csrf"] = secrets.token_urlsafe(32)  # a new session gets a token of its own
                log.info("review pages: login (%s) from %s", "user" if ok_user else "token", request.remote_addr)
                return redirect(target)
            failed = True
            failures.add(address)
            log.warning("review pages: failed login from %s", address)
            time.sleep(0.5)  # slows guessing; the form is the only way in
        return render_template("login.html", failed=failed, next=target, has_token=cfg.token is not None,
                               has_user=cfg.user is not None), 401 if failed else 200

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    # --- incidents -------------------------------------------------------------------

    @app.get("/")
    def incidents():
        camera = request.args.get("camera") or None
        state = request.args.get("state") or None
        if state and state not in STATES:
            abort(400, f"state must be one of {', '.join(STATES)}")
        try:
            page = max(1, int(request.args.get("page", "1")))
        except ValueError:
            abort(400, "page must be a number")
        total = store.count(camera, state)
        rows = store.page(camera, state, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        sent = deliveries(config_of(), [r.id for r in rows])

        def page_link(n: int) -> str:
            args = {k: v for k, v in (("camera", camera), ("state", state), ("page", n)) if v}
            return "/?" + urlencode(args)

        return render_template("incidents.html", rows=rows, sent=sent, camera=camera, state=state,
                               cameras=store.cameras(), total=total, page=page,
                               pages=max(1, -(-total // PAGE_SIZE)), page_link=page_link)

    @app.get("/incidents/<path:incident_id>")
    def incident(incident_id: str):
        found = store.get(incident_id)
        if found is None:
            abort(404, "no such incident")
        snaps = store.snapshots(incident_id)
        alerts = deliveries(config_of(), [incident_id], detail=True).get(incident_id, [])
        negatives = [s.frame for s in snaps if s.frame and (negatives_dir / s.frame).is_file()]
        return render_template("incident.html", i=found, snaps=snaps, alerts=alerts, negatives=negatives)

    @app.post("/review")
    def review():
        incident_id = request.form.get("id", "")
        verdict = request.form.get("state", "")
        note = request.form.get("note", "").strip()[:500]
        if verdict not in STATES:
            abort(400, f"state must be one of {', '.join(STATES)}")
        found = store.get(incident_id)
        if found is None:
            abort(404, "no such incident")
        store.set_verdict(incident_id, verdict, note)
        snaps = store.snapshots(incident_id)
        if verdict == "false_alarm":
            written = write_negatives(store.get(incident_id), snaps, frames_dir, negatives_dir, note)
            log.info("incident %s marked false alarm; %d gun-free pictures in %s", incident_id,
                     len(written), negatives_dir)
        else:
            removed = remove_negatives(snaps, negatives_dir)
            log.info("incident %s marked %s%s", incident_id, verdict,
                     f"; {removed} pictures taken out of {negatives_dir}" if removed else "")
        return redirect(local_path(request.form.get("next", ""), url_for("incident", incident_id=incident_id)),
                        code=303)

    # --- pictures --------------------------------------------------------------------

    @app.get("/snapshots/<path:name>")
    def snapshot(name: str):
        path = safe_file(snapshot_dir, name)
        if path is None:
            abort(404, "no such snapshot")
        reply = send_file(thumbnail(path) if request.args.get("thumb") else path, mimetype="image/jpeg",
                          max_age=3600)
        # The browser may keep a picture of a gun incident; a shared proxy on the way may not.
        reply.cache_control.public = False
        reply.cache_control.private = True
        return reply

    def thumbnail(path: Path) -> Path:
        thumb = thumbs_dir / path.name
        if thumb.is_file() and thumb.stat().st_mtime >= path.stat().st_mtime:
            return thumb
        image = cv2.imread(str(path))
        if image is None:
            return path
        h, w = image.shape[:2]
        if w > THUMB_WIDTH:
            image = cv2.resize(image, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))), interpolation=cv2.INTER_AREA)
        thumbs_dir.mkdir(parents=True, exist_ok=True)
        # One partial file per thread: two first views of a page must not write into the same one.
        partial = thumbs_dir / f".{threading.get_ident()}-{thumb.name}"
        if cv2.imwrite(str(partial), image, [cv2.IMWRITE_JPEG_QUALITY, 80]):
            os.replace(partial, thumb)
            return thumb
        return path

    # --- cameras ---------------------------------------------------------------------

    def review_sink() -> ReviewSink | None:
        return next((s for s in runner_of().sinks if isinstance(s, ReviewSink)), None)

    @app.get("/cameras")
    def cameras():
        sink = review_sink()
        last = sink.last_frames() if sink else {}
        names = sorted(set(last) | set(config_of().cameras))
        now = time.time()
        rows = [{"name": n, "last": last.get(n), "age": (now - last[n].analysed_at) if n in last else None}
                for n in names]
        sources = [s.status for s in runner_of().sources]
        return render_template("cameras.html", cameras=rows, sources=sources)

    @app.get("/cameras/<path:name>/frame.jpg")
    def camera_frame(name: str):
        sink = review_sink()
        last = sink.last_frames().get(name) if sink else None
        if last is None:
            abort(404, "no frame from this camera yet")
        filt = config_of().camera(name).frame_filter()
        image = last.image.copy()
        sx, sy = last.scale
        thickness = max(2, image.shape[1] // 400)
        # Zones and masks are in the camera's own pixels; the frame may have been decoded smaller.
        for polygons, colour in ((filt.zones, (80, 200, 80)), (filt.masks, (60, 60, 230))):
            for polygon in polygons:
                points = [[round(x / sx), round(y / sy)] for x, y in polygon]
                cv2.polylines(image, [np.array(points, dtype=np.int32)], True, colour, thickness)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            abort(500)
        return Response(data.tobytes(), mimetype="image/jpeg", headers={"Cache-Control": "no-store"})

    # --- machines --------------------------------------------------------------------

    @app.get("/metrics", endpoint="metrics")
    def metrics_page():
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz():
        ok, text = metrics.health(runner_of())
        return Response(text, status=200 if ok else 503, mimetype="text/plain")

    return app
