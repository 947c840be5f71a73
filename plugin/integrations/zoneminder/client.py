"""ZoneMinder's HTTP API (1.34 and later): login with access/refresh tokens, events, frames, notes,
alarms.

Facts used (checked against ZoneMinder 1.36.33): `POST api/host/login.json` with user/pass gives
access_token (+ access_token_expires, seconds) and refresh_token (+ refresh_token_expires);
posting `token=<refresh_token>` gives a new access token only. Every API and web request carries
`?token=<access_token>`; without auth (OPT_USE_AUTH off) no token is needed. An expired or
missing token gives 401 on the API and a 302 to the login page on index.php.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from ...errors import ConfigError, SourceError
from ...untrusted import masked_url as redact
from .config import ZoneMinderSourceConfig

log = logging.getLogger(__name__)
# urllib3 logs every request line at DEBUG, and ZoneMinder's access token travels in the query
# string: at gunwatch's DEBUG level that would write tokens into the log.
logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)

class ZoneMinderUnavailable(SourceError):
    """ZoneMinder's web server did not answer, or answered with a server error: try again later."""


class ZoneMinderAuthError(ConfigError):
    """ZoneMinder refused the login (wrong user/password, API disabled for the user)."""


class ZoneMinderClient:
    """One API session. Thread-safe: the source, the write-back and the hook share it."""

    # A renewal that close to the previous one would hammer the login endpoint.
    MIN_RENEW_INTERVAL_S = 5.0

    def __init__(self, config: ZoneMinderSourceConfig):
        self.config = config
        self.portal, self.api = config.portal, config.api
        self.http = requests.Session()
        # Given with every request too: a session's own `verify` loses to REQUESTS_CA_BUNDLE
        # and CURL_CA_BUNDLE when they are set (requests' merge_environment_settings), so
        # verify_tls: false would be ignored on hosts that set them.
        self.http.verify = config.verify_tls
        self._lock = threading.Lock()
        self._access: str | None = None
        self._access_renew_at = 0.0
        self._refresh: str | None = None
        self._refresh_valid_until = 0.0

    # ------------------------------------------------------------------ auth
    @property
    def uses_auth(self) -> bool:
        return bool(self.config.user)

    def _token(self) -> str | None:
        if not self.uses_auth:
            return None
        with self._lock:
            now = time.monotonic()
            if self._access and now < self._access_renew_at:
                return self._access
            if self._refresh and now < self._refresh_valid_until:
                try:
                    self._take_tokens(self._post_login({"token": self._refresh}), renewed=True)
                    return self._access
                except ZoneMinderAuthError:
                    log.warning("zoneminder %s: refresh token refused; logging in again", self.api)
            password = self.config.password.get_secret_value() if self.config.password else ""
            self._take_tokens(self._post_login({"user": self.config.user, "pass": password}), renewed=False)
            return self._access

    def _post_login(self, form: dict[str, str]) -> dict[str, Any]:
        url = f"{self.api}/host/login.json"
        try:
            response = self.http.post(url, data=form, timeout=self.config.timeout_s,
                                      verify=self.config.verify_tls)
        except requests.RequestException as exc:
            raise ZoneMinderUnavailable(f"{url}: {redact(str(exc))}") from None
        if response.status_code in (401, 403):
            raise ZoneMinderAuthError(f"zoneminder {url}: login refused for user "
                                      f"{self.config.user!r}: {_error_text(response)}; check "
                                      "user/password and that the user has API access enabled")
        if response.status_code >= 400:
            raise ZoneMinderUnavailable(f"{url}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise ZoneMinderUnavailable(f"{url}: answer is not JSON") from None
        if not body.get("access_token"):
            raise ZoneMinderAuthError(f"zoneminder {url}: login gave no access token; auth is "
                                      "probably off in ZoneMinder (OPT_USE_AUTH): remove user and "
                                      "password from the config")
        return body

    def _take_tokens(self, body: dict[str, Any], renewed: bool) -> None:
        now = time.monotonic()
        lifetime = float(body.get("access_token_expires") or 3600)
        self._access = body["access_token"]
        self._access_renew_at = now + max(lifetime - self.config.token_renew_s, self.MIN_RENEW_INTERVAL_S)
        if body.get("refresh_token"):
            self._refresh = body["refresh_token"]
            refresh_life = float(body.get("refresh_token_expires") or 0)
            self._refresh_valid_until = now + max(0.0, refresh_life - self.config.token_renew_s)
        if renewed:
            log.info("zoneminder %s: renewed the access token (valid %.0f s)", self.api, lifetime)
        else:
            log.info("zoneminder %s: logged in as %s (access token valid %.0f s)", self.api,
                     self.config.user, lifetime)

    def _forget_access(self) -> None:
        with self._lock:
            self._access, self._access_renew_at = None, 0.0

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, url: str, *, data: dict | None = None,
                 params: dict | None = None) -> requests.Response:
        for attempt in (1, 2):
            query = dict(params or {})
            token = self._token()
            if token:
                query["token"] = token
            try:
                response = self.http.request(method, url, params=query, data=data,
                                             timeout=self.config.timeout_s, allow_redirects=False,
                                             verify=self.config.verify_tls)
            except requests.RequestException as exc:
                raise ZoneMinderUnavailable(f"{redact(url)}: {redact(str(exc))}") from None
            # 401 from the API, or index.php sending us to its login page: the token went stale
            # (ZoneMinder restarted with a new secret, or it was revoked). Log in once more.
            stale = response.status_code == 401 or (response.status_code == 302 and "login" in
                                                     response.headers.get("Location", ""))
            if stale and self.uses_auth and attempt == 1:
                self._forget_access()
                continue
            if stale:
                raise ZoneMinderAuthError(
                    f"zoneminder {redact(url)}: not authenticated (HTTP {response.status_code}); "
                    "auth is on in ZoneMinder: set user and password in the config"
                    if not self.uses_auth else
                    f"zoneminder {redact(url)}: the new token was refused too")
            if response.status_code >= 500:
                raise ZoneMinderUnavailable(f"{redact(url)}: HTTP {response.status_code}")
            return response
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs) -> dict[str, Any] | None:
        """The decoded answer, or None when the API says 404 (no such event or monitor)."""
        response = self._request(method, f"{self.api}/{path}", **kwargs)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise SourceError(f"zoneminder {self.api}/{path}: HTTP {response.status_code}: "
                              f"{_error_text(response)}")
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ZoneMinderUnavailable(f"{self.api}/{path}: answer is not JSON") from None

    # ------------------------------------------------------------------ API calls
    def version(self) -> dict[str, Any]:
        return self._json("GET", "host/getVersion.json") or {}

    def monitors(self) -> list[dict[str, Any]]:
        body = self._json("GET", "monitors.json") or {}
        return [m["Monitor"] for m in body.get("monitors", [])]

    def events_after(self, last_id: int, limit: int = 100) -> list[dict[str, Any]]:
        """Events with Id > last_id, oldest first (one page)."""
        body = self._json("GET", f"events/index/Id >:{int(last_id)}.json",
                          params={"sort": "Id", "direction": "asc", "limit": limit}) or {}
        return [e["Event"] for e in body.get("events", [])]

    def recent_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest events, newest first."""
        body = self._json("GET", "events.json", params={"sort": "Id", "direction": "desc",
                                                        "limit": limit}) or {}
        return [e["Event"] for e in body.get("events", [])]

    def event(self, event_id: int) -> dict[str, Any] | None:
        """{"Event": {...}, "Frame": [...], ...}, or None when the event no longer exists."""
        body = self._json("GET", f"events/{int(event_id)}.json")
        return None if body is None else body.get("event")

    def update_notes(self, event_id: int, notes: str) -> bool:
        """False when the event no longer exists."""
        return self._json("PUT", f"events/{int(event_id)}.json", data={"Event[Notes]": notes}) is not None

    def alarm(self, monitor_id: int, on: bool) -> str:
        body = self._json("GET", f"monitors/alarm/id:{int(monitor_id)}/command:{'on' if on else 'off'}.json")
        return str((body or {}).get("status", ""))

    def image(self, event_id: int, frame: str) -> bytes | None:
        """A frame's JPEG through index.php?view=image (fid: number, alarm or snapshot), which
        also extracts frames from events stored as video only. None when there is no such frame."""
        for attempt in (1, 2):
            response = self._request("GET", f"{self.portal}/index.php",
                                     params={"view": "image", "eid": int(event_id), "fid": frame})
            if response.status_code == 404:
                return None
            content_type = response.headers.get("Content-Type", "")
            if response.status_code == 200 and content_type.startswith("image/"):
                return response.content
            # index.php answers a token it no longer accepts with an HTML error page (HTTP 200).
            if attempt == 1 and self.uses_auth and "html" in content_type:
                self._forget_access()
                continue
            break
        raise SourceError(f"zoneminder image eid={event_id} fid={frame}: HTTP "
                          f"{response.status_code} {content_type or 'without content type'}")


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        return str(body.get("data", {}).get("message") or body)[:200]
    except ValueError:
        return response.text[:200]
