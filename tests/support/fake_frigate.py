"""A local HTTP server that answers the Frigate endpoints gunwatch uses the way Frigate does,
status codes and validation included, and records what gunwatch sent. Each rule cites the
Frigate file and version it follows (github.com/blakeblackshear/frigate at that tag).

`auth=True` is port 8971 (every /api/ call needs a session, /api/login excepted); `auth=False`
is the internal port 5000. `version` picks the behaviour where versions differ:
- login failure: 400 on 0.14, 401 from 0.15;
- body validation: Flask checks by hand on 0.14 (400), FastAPI/pydantic from 0.15 (422);
- sub label: the event must be in the database on 0.14/0.15 (written only once it has a snapshot
  or clip); from 0.16 an event still being tracked is found too;
- offline camera: camera-error.jpg (200) on 0.14 to 0.17; from 0.18 the last preview frame with
  `X-Frigate-Offline: true`.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import cv2

from .local_server import LocalHTTPServer, QuietHandler

CAMERA_ERROR_JPG = Path(__file__).parent / "frigate" / "camera-error.jpg"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TrackedEvent:
    camera: str
    label: str = "person"
    has_snapshot: bool = False
    has_clip: bool = False
    sub_label: tuple[str, float | None] | None = None


class FakeFrigate(LocalHTTPServer):
    def __init__(self, version: str = "0.14.1-f4f3cfa", auth: bool = False,
                 users: dict[str, str] | None = None, cameras: tuple[str, ...] = ("driveway", "garden"),
                 session_length_s: int = 86400, tls: tuple[Path, Path] | None = None,
                 clock_skew_s: float = 0.0, port: int = 0):
        self.version, self.auth = version, auth
        self.clock_skew_s = clock_skew_s  # how far its Date header is from this machine's clock
        self.minor = int(version.split(".")[1])
        self.users = users if users is not None else {"admin": "correct horse"}
        self.cameras = set(cameras)
        self.session_length_s = session_length_s
        self.secret = b"per-start jwt secret"
        self.pictures: dict[str, bytes] = {}
        self.offline: set[str] = set()
        self.previews: dict[str, bytes] = {}          # 0.18: last preview frame of an offline camera
        self.tracked: dict[str, TrackedEvent] = {}    # in progress in Frigate's object processor
        self.created: dict[str, TrackedEvent] = {}    # made by POST .../create
        self.fetches: dict[str, int] = {}
        self.posts: list[tuple[str, dict]] = []
        self.answers: list[tuple[str, str, int]] = []  # method, path, status: every request
        self.logins = 0
        self.lock = threading.Lock()
        frigate = self

        class Handler(QuietHandler):
            def date_time_string(self, timestamp=None):
                return email.utils.formatdate(time.time() + frigate.clock_skew_s, usegmt=True)

            def _reply(self, status: int, body: bytes | dict | str, kind: str = "application/json",
                       headers: dict[str, str] | None = None):
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                elif isinstance(body, str):
                    body = body.encode()
                with frigate.lock:
                    frigate.answers.append((self.command, self.path.split("?", 1)[0], status))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                # Port 8971: nginx `auth_request` on `location /api/`, `auth_request off` only
                # for /api/login (docker/main/rootfs/usr/local/nginx/conf/nginx.conf, v0.14.1).
                # The token is a Bearer header or the cookie (frigate/api/auth.py auth(), v0.14.1).
                if not frigate.auth:
                    return True
                header = self.headers.get("Authorization", "")
                token = header[len("Bearer "):] if header.startswith("Bearer ") else None
                if token is None:
                    cookie = SimpleCookie(self.headers.get("Cookie", ""))
                    token = cookie["frigate_token"].value if "frigate_token" in cookie else None
                if token is None or not frigate.valid_token(token):
                    self._reply(401, {})
                    return False
                return True

            def do_GET(self):
                path = self.path.split("?", 1)[0]
                parts = path.strip("/").split("/")
                if not self._authorised():
                    return
                if path == "/api/version":  # frigate/api/app.py version(), v0.14.1
                    return self._reply(200, frigate.version, "text/plain")
                if path == "/api/stats":  # cameras.<name>.camera_fps: frigate/stats/util.py, v0.14.1
                    return self._reply(200, {"cameras": {
                        camera: {"camera_fps": 0.0 if camera in frigate.offline else 5.0}
                        for camera in sorted(frigate.cameras)}})
                if len(parts) == 3 and parts[0] == "api" and parts[2] == "latest.jpg":
                    return self._latest(parts[1])
                self._reply(404, {"detail": "Not Found"})

            def _latest(self, camera: str):
                # frigate/api/media.py latest_frame: unknown camera 404 "Camera named ... not
                # found" (v0.14.1, v0.18.0-beta1); a camera without frames answers 200 with
                # frigate/images/camera-error.jpg, or from 0.18 its last preview frame marked
                # `X-Frigate-Offline: true` when there is one.
                with frigate.lock:
                    frigate.fetches[camera] = frigate.fetches.get(camera, 0) + 1
                    picture = frigate.pictures.get(camera)
                    preview = frigate.previews.get(camera)
                if camera not in frigate.cameras:
                    return self._reply(404, {"success": False, "message": "Camera not found"})
                if camera in frigate.offline:
                    if frigate.minor >= 18 and preview is not None:
                        return self._reply(200, preview, "image/jpeg", {"X-Frigate-Offline": "true"})
                    return self._reply(200, frigate.error_picture(), "image/jpeg")
                if picture is None:
                    return self._reply(500, {"success": False, "message": "Unable to get valid frame"})
                self._reply(200, picture, "image/jpeg")

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                parts = self.path.strip("/").split("/")
                with frigate.lock:
                    frigate.posts.append((self.path, body))
                if self.path == "/api/login":
                    return self._login(body)
                if not self._authorised():
                    return
                if len(parts) == 4 and parts[1] == "events" and parts[3] == "sub_label":
                    return self._sub_label(parts[2], body)
                if len(parts) == 5 and parts[1] == "events" and parts[4] == "create":
                    return self._create(parts[2], parts[3], body)
                self._reply(404, {"detail": "Not Found"})

            def _login(self, body):
                # frigate/api/auth.py login(): a bad user or password is 400 on v0.14.1, 401 on
                # v0.15.2 and later; success sets the JWT as the frigate_token cookie.
                refused = 401 if frigate.minor >= 15 else 400
                if not isinstance(body, dict) or "user" not in body or "password" not in body:
                    return self._reply(422 if frigate.minor >= 15 else 400, {"message": "Login failed"})
                if frigate.users.get(body["user"]) != body["password"]:
                    return self._reply(refused, {"message": "Login failed"})
                with frigate.lock:
                    frigate.logins += 1
                token = frigate.issue_token(body["user"])
                cookie = f"frigate_token={token}; HttpOnly; Path=/; Max-Age={frigate.session_length_s}"
                self._reply(200, {}, headers={"Set-Cookie": cookie})

            def _sub_label(self, event_id: str, body):
                # 0.14 (frigate/api/event.py set_sub_label, v0.14.1): looks the event up in the
                # database first (404), then checks the body by hand: no subLabel 400, longer
                # than 100 characters 400.
                # 0.15 and later: EventsSubLabelBody (frigate/api/defs/request/events_body.py,
                # v0.15.2, v0.17.2) is validated first: subLabel str <= 100, subLabelScore
                # 0 < score <= 1, else 422; 0.15 looks in the database only, 0.16 and later in the
                # tracked objects as well (frigate/api/event.py, v0.16.4).
                if frigate.minor >= 15:
                    problem = frigate.sub_label_problem(body)
                    if problem:
                        return self._reply(422, {"detail": [{"msg": problem}]})
                with frigate.lock:
                    found = frigate.in_database(event_id) or (
                        frigate.minor >= 16 and event_id in frigate.tracked)
                if not found:
                    return self._reply(404, {"success": False, "message": f"Event {event_id} not found"})
                if frigate.minor < 15:
                    body = body if isinstance(body, dict) else {}
                    label = body.get("subLabel")
                    if label is None:
                        return self._reply(400, {"success": False, "message": "A sub label must be supplied"})
                    if len(label) > 100:
                        return self._reply(400, {"success": False, "message": "exceeds the 100 character limit"})
                with frigate.lock:
                    event = frigate.tracked.get(event_id) or frigate.created[event_id]
                    event.sub_label = (body["subLabel"], body.get("subLabelScore"))
                self._reply(200, {"success": True, "message": f"Event {event_id} sub label set"})

            def _create(self, camera: str, label: str, body):
                # frigate/api/event.py create_event (v0.14.1, v0.15.2): unknown camera 404
                # "<camera> is not a valid camera."; 0.15 and later validate EventsCreateBody
                # (score float, duration int, include_recording bool, sub_label str): 422.
                if camera not in frigate.cameras:
                    return self._reply(404, {"success": False, "message": f"{camera} is not a valid camera."})
                body = body if isinstance(body, dict) else {}
                if frigate.minor >= 15:
                    problem = frigate.create_problem(body)
                    if problem:
                        return self._reply(422, {"detail": [{"msg": problem}]})
                event_id = f"{time.time():.6f}-{hashlib.sha1(self.path.encode()).hexdigest()[:6]}"
                sub_label = body.get("sub_label")
                with frigate.lock:
                    frigate.created[event_id] = TrackedEvent(
                        camera, label, has_snapshot=True,
                        sub_label=(sub_label, body.get("score")) if sub_label else None)
                self._reply(200, {"success": True, "message": "Successfully created event.",
                                  "event_id": event_id})

        super().__init__(Handler, port=port, tls=tls)

    # Frigate's rules, shared by the handler and the tests
    def in_database(self, event_id: str) -> bool:
        """Frigate writes a tracked event to its database only once it has a clip or a snapshot
        (should_update_db, frigate/events/maintainer.py, v0.14.1); created events always."""
        event = self.tracked.get(event_id)
        return event_id in self.created or bool(event and (event.has_clip or event.has_snapshot))

    @staticmethod
    def sub_label_problem(body) -> str | None:
        if not isinstance(body, dict) or not isinstance(body.get("subLabel"), str):
            return "subLabel: Field required (a string)"
        if len(body["subLabel"]) > 100:
            return "subLabel: at most 100 characters"
        score = body.get("subLabelScore")
        if score is not None and (not isinstance(score, (int, float)) or isinstance(score, bool)
                                  or not 0 < score <= 1):
            return "subLabelScore: a number with 0 < score <= 1"
        return None

    @staticmethod
    def create_problem(body: dict) -> str | None:
        kinds = {"sub_label": (str,), "score": (int, float), "duration": (int,),
                 "include_recording": (bool,), "source_type": (str,), "draw": (dict,)}
        for key, allowed in kinds.items():
            value = body.get(key)
            if value is not None and (not isinstance(value, allowed)
                                      or (bool not in allowed and isinstance(value, bool))):
                return f"{key}: wrong type"
        return None

    def issue_token(self, user: str, lifetime_s: float | None = None) -> str:
        """A HS256 JWT as Frigate's create_encoded_jwt makes it (sub, exp; frigate/api/auth.py)."""
        header = _b64(json.dumps({"alg": "HS256"}).encode())
        exp = int(time.time() + (self.session_length_s if lifetime_s is None else lifetime_s))
        payload = _b64(json.dumps({"sub": user, "exp": exp}).encode())
        signature = _b64(hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        return f"{header}.{payload}.{signature}"

    def valid_token(self, token: str) -> bool:
        try:
            header, payload, signature = token.split(".")
            expected = _b64(hmac.new(self.secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return False
        return hmac.compare_digest(signature, expected) and claims.get("exp", 0) > time.time()

    def restart_with_new_secret(self) -> None:
        """Frigate makes a new JWT secret when none is configured, so a restart ends every session."""
        self.secret = hashlib.sha256(self.secret).digest()

    def error_picture(self) -> bytes:
        # latest_frame re-encodes the picture at the requested quality (frigate/api/media.py)
        image = cv2.imread(str(CAMERA_ERROR_JPG))
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()

    @property
    def url(self) -> str:
        return self.base_url

    def fetch_count(self, camera: str) -> int:
        with self.lock:
            return self.fetches.get(camera, 0)

    def posted(self, suffix: str) -> list[dict]:
        with self.lock:
            return [body for path, body in self.posts if path.endswith(suffix)]

    def answered(self, suffix: str) -> list[int]:
        with self.lock:
            return [status for _, path, status in self.answers if path.endswith(suffix)]
