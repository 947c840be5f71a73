"""Frigate's HTTP API as gunwatch uses it: authentication, version, frames, links.

Since 0.14 Frigate's documented docker-compose publishes only port 8971, which answers 401
to every `/api/` call without a session (nginx `auth_request`, docker/main/rootfs/usr/local/
nginx/conf/nginx.conf, v0.14.1). A session is a JWT, issued by `POST /api/login`
{"user", "password"} as the `frigate_token` cookie (frigate/api/auth.py, v0.14.1 and v0.15.2)
and accepted back as `Authorization: Bearer <jwt>` (docs/docs/configuration/authentication.md,
v0.14.1). It expires after `auth.session_length` (a day by default), so gunwatch logs in again
shortly before its `exp`, and once more when Frigate answers 401 anyway (Frigate restarted
with a new secret). Port 5000 needs no session; `auth` is then left out.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time

import numpy as np
import requests

from ...untrusted import masked_url, url_segment
from .config import FrigateAuthConfig

log = logging.getLogger(__name__)

# Log in again this long before the session's `exp`, so that no call runs into the expiry.
RENEW_BEFORE_EXPIRY_S = 300.0


class FrigateAuthError(requests.RequestException):
    """Frigate refused gunwatch's credentials; the message says which key to fix."""


class FrigateTlsError(requests.exceptions.SSLError):
    """Frigate's certificate was not trusted; the message says which key to set."""


def jwt_expiry(token: str) -> float | None:
    """The `exp` claim of a JWT, read without checking the signature: gunwatch only needs to
    know when to log in again, Frigate checks the rest."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def parse_version(text: str) -> tuple[int, int]:
    """`0.14.1-f4f3cfa` -> (0, 14). ValueError for anything that is not a version."""
    major, minor = text.strip().split("-", 1)[0].split(".")[:2]
    return int(major), int(minor)


class FrigateApi:
    """One Frigate's `/api/`, with the session it needs; safe to share between threads."""

    def __init__(self, url: str, auth: FrigateAuthConfig | None, timeout_s: float,
                 tls_verify: bool | str = True, public_url: str | None = None):
        self.base = url.rstrip("/")
        self.shown = masked_url(self.base)
        self.public = (public_url or self.shown).rstrip("/")
        self.auth, self.timeout_s = auth, timeout_s
        self.http = requests.Session()
        self.http.verify = tls_verify
        self._token = auth.token.get_secret_value() if auth and auth.token else None
        self._expires_at = jwt_expiry(self._token) if self._token else None
        self._login_lock = threading.Lock()
        self._version: tuple[int, int] | None = None

    # session
    def _logs_in(self) -> bool:
        return bool(self.auth and self.auth.user)

    def log_in(self) -> None:
        """A fresh session from `POST /api/login`; FrigateAuthError when Frigate refuses it
        (0.14 answers 400, 0.15 and later 401: frigate/api/auth.py)."""
        assert self.auth and self.auth.user and self.auth.password
        response = self._http("POST", f"{self.base}/api/login", timeout=self.timeout_s,
                              json={"user": self.auth.user,
                                    "password": self.auth.password.get_secret_value()})
        if response.status_code in (400, 401):
            raise FrigateAuthError(f"Frigate {self.shown} refused the login of user "
                                   f"{self.auth.user!r} (HTTP {response.status_code}): check "
                                   "auth.user and the password in auth.password")
        response.raise_for_status()
        # The cookie is named by Frigate's auth.cookie_name (frigate_token unless changed), and
        # it is the only one login sets.
        token = next(iter(response.cookies.values()), None)
        if not token:
            raise FrigateAuthError(f"Frigate {self.shown} accepted the login but set no session "
                                   "cookie: is url Frigate's port 8971 (or 5000 without auth)?")
        self._token, self._expires_at = token, jwt_expiry(token)
        self.http.cookies.clear()  # sent as Bearer only: one place holds the session
        log.info("frigate %s: logged in as %s, session valid for %s", self.shown, self.auth.user,
                 f"{self._expires_at - time.time():.0f} s" if self._expires_at else "an unknown time")

    def _ensure_session(self, refused: str | None = None) -> None:
        with self._login_lock:
            stale = refused is not None and refused == self._token
            expiring = self._expires_at is not None and time.time() > self._expires_at - RENEW_BEFORE_EXPIRY_S
            if self._logs_in() and (self._token is None or stale or expiring):
                self.log_in()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """`/api/<path>`, with the session; one new login when Frigate answers 401 to it."""
        self._ensure_session()
        sent_with = self._token
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and self._logs_in():
            self._ensure_session(refused=sent_with)
            response = self._send(method, path, **kwargs)
        if response.status_code == 401:
            how = ("auth.token is refused (expired or from another Frigate): set a fresh one"
                   if self._token else "Frigate asks for a session: set auth.user and auth.password "
                   "(port 8971), or use the unauthenticated port 5000")
            raise FrigateAuthError(f"Frigate {self.shown} answered 401 to /api/{path}: {how}")
        return response

    def _send(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return self._http(method, f"{self.base}/api/{path}", headers=headers,
                          timeout=self.timeout_s, **kwargs)

    def _http(self, method: str, url: str, **kwargs) -> requests.Response:
        try:
            # `verify` per request: the session's own loses to REQUESTS_CA_BUNDLE and
            # CURL_CA_BUNDLE when they are set, and tls_verify: false would be ignored.
            return self.http.request(method, url, verify=self.http.verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            if self.http.verify is False:
                raise   # not a trust question: TLS itself failed
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            raise FrigateTlsError(
                f"Frigate {self.shown}: its certificate is not trusted ({reason or exc}): Frigate's "
                "self-generated certificate is signed by no known CA and names no host; set "
                "tls_verify: false, or ca_file: a PEM copy of the certificate") from exc

    # what gunwatch asks of it
    def version(self) -> tuple[int, int]:
        """Frigate's (major, minor) from `/api/version`, asked once."""
        if self._version is None:
            response = self.request("GET", "version")
            response.raise_for_status()
            try:
                self._version = parse_version(response.text)
            except ValueError:
                raise requests.RequestException(f"Frigate {self.shown}/api/version answered "
                                                f"{response.text[:40]!r}, not a version") from None
        return self._version

    def camera_fps(self) -> dict[str, float]:
        """Each camera's decoded frames per second from `/api/stats`: 0 while its stream is down
        (`cameras.<name>.camera_fps`, frigate/stats/util.py, v0.14.1 to v0.17)."""
        response = self.request("GET", "stats")
        response.raise_for_status()
        cameras = response.json().get("cameras") or {}
        return {name: float(stats.get("camera_fps") or 0.0) for name, stats in cameras.items()
                if isinstance(stats, dict)}

    def event_link(self, event_id: str, has_snapshot: bool) -> str:
        """Where a person opens the event in Frigate's UI. Explore (`/explore?event_id=`)
        exists from 0.15 (web/src/App.tsx); 0.14's review page takes review ids, not event ids,
        so there the event's snapshot is the nearest page, or the review list without one."""
        quoted = url_segment(event_id)
        try:
            version = self.version()
        except requests.RequestException:
            version = (0, 15)  # unknown: the link of every version still supported
        if version >= (0, 15):
            return f"{self.public}/explore?event_id={quoted}"
        if has_snapshot:
            return f"{self.public}/api/events/{quoted}/snapshot.jpg"
        return f"{self.public}/review"


# Frigate answers `latest.jpg` of a camera without frames with its own "camera error" picture,
# status 200 (frigate/api/media.py latest_frame, v0.14.1 to v0.18; frigate/images/camera-error.jpg,
# 1920x1080, the same file in every version): grey, almost black, a line of white text. Its
# fingerprint: a 16x16 grey thumbnail, 1 where brighter than the thumbnail's mean, row by row.
CAMERA_ERROR_FINGERPRINT = int("000000000180018003c003c00180000000000000000000003ffc000000000000", 16)
# The fingerprint has 26 bits set: a few bits of JPEG noise are tolerated, a night frame with a
# lamp in the middle is not taken for it.
FINGERPRINT_TOLERANCE_BITS = 4
CAMERA_ERROR_MEAN_BRIGHTNESS = 16


def fingerprint(image: np.ndarray) -> int:
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32)
    bits = (small > small.mean()).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def is_camera_error_picture(image: np.ndarray) -> bool:
    """True for Frigate's camera-error picture, at whatever size and JPEG quality it came."""
    if image.ndim == 3 and float(np.abs(image[..., 0].astype(np.int16) - image[..., 2]).mean()) > 2:
        return False  # the picture is grey; a colour frame is a camera's
    if float(image.mean()) > CAMERA_ERROR_MEAN_BRIGHTNESS:
        return False
    distance = bin(fingerprint(image) ^ CAMERA_ERROR_FINGERPRINT).count("1")
    return distance <= FINGERPRINT_TOLERANCE_BITS
