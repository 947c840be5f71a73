"""A local HTTP server that answers like Twilio's REST API (2010-04-01), for the real `twilio` client.

It checks what Twilio checks first (HTTP Basic auth with the account SID and auth token, the
account in the path, E.164 `To`/`From`, a `Body` or `MediaUrl` for messages, `Twiml` or `Url`
for calls), records every message and call it accepts, and answers 201 with a `sid` and
`status`, or with Twilio's error JSON (`code`, `message`, `status`, `more_info`). Tests can make
it answer 429, 500 or 503, reject numbers with 21211, script call outcomes, and hold a request
(before or after "creating" the message) to kill the client at a known moment.
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from .local_server import LocalHTTPServer, QuietHandler

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-not-a-secret"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})/"
                  r"(?P<kind>Messages|Calls)(?:/(?P<sid>[A-Z]{2}[0-9a-f]{32}))?\.json$")
# The account resource, which `gunwatch doctor` reads to check the credentials (and the clock,
# from the answer's Date header).
ACCOUNT = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC[0-9a-fA-F]{32})\.json$")


@dataclass
class Created:
    """A message or call the fake provider accepted (what a phone would receive)."""

    kind: str                 # "sms" or "call"
    sid: str
    to: str
    from_: str
    body: str | None = None
    media_urls: list[str] = field(default_factory=list)
    twiml: str | None = None
    timeout: str | None = None
    machine_detection: str | None = None
    at: float = 0.0           # time.monotonic() when it was accepted


@dataclass
class Hold:
    """Hold request number `request_no` (1-based, creates only) until released."""

    request_no: int
    after_create: bool
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FakeTwilio(LocalHTTPServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN,
                 answer_delay_s: float = 0.0, clock_skew_s: float = 0.0):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.answer_delay_s = answer_delay_s
        self.clock_skew_s = clock_skew_s  # how far the Date header is from this machine's clock
        self.created: list[Created] = []
        self.attempts: list[tuple[float, int, str]] = []  # (monotonic time, HTTP status, To) per create
        self.invalid_numbers: set[str] = set()
        self.call_outcomes: dict[str, tuple[str, str | None]] = {}  # To -> (status, answered_by)
        self.message_status = "delivered"
        self._scripted: list[tuple[int, int, str]] = []  # (status, code, message) for next creates
        self._down: tuple[int, int, str] | None = None
        self._hold: Hold | None = None
        self._requests = 0  # create requests seen, answered or not
        self._lock = threading.Lock()
        fake = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the second waits for the
            # client's delayed ACK (40 ms) on every keep-alive request.
            disable_nagle_algorithm = True

            def do_POST(self):
                fake._handle(self, "POST")

            def do_GET(self):
                fake._handle(self, "GET")

            def date_time_string(self, timestamp=None):
                return email.utils.formatdate(time.time() + fake.clock_skew_s, usegmt=True)

        super().__init__(Handler)

    # --- control -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.base_url

    def fail_next(self, count: int, status: int, code: int | None = None,
                  message: str = "scripted failure") -> None:
        with self._lock:
            self._scripted.extend([(status, code or status, message)] * count)

    def go_down(self, status: int = 503, code: int = 503) -> None:
        with self._lock:
            self._down = (status, code, "Service Unavailable")

    def come_back(self) -> None:
        with self._lock:
            self._down = None

    def hold(self, request_no: int, after_create: bool) -> Hold:
        self._hold = Hold(request_no, after_create)
        return self._hold

    def sms(self) -> list[Created]:
        with self._lock:
            return [c for c in self.created if c.kind == "sms"]

    def calls(self) -> list[Created]:
        with self._lock:
            return [c for c in self.created if c.kind == "call"]

    def __exit__(self, *exc) -> None:
        if self._hold is not None:
            self._hold.release.set()
        super().__exit__(*exc)

    # --- the API -----------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        form = parse_qs(request.rfile.read(length).decode()) if length else {}
        account = ACCOUNT.match(request.path)
        if account is not None and method == "GET":
            if not self._authorized(request.headers.get("Authorization", ""), account["account"]):
                return self._answer(request, 401, error(20003, "Authenticate", 401))
            return self._answer(request, 200, {"sid": self.account_sid, "status": "active",
                                               "type": "Full", "friendly_name": "gunwatch stand-in"})
        match = PATH.match(request.path)
        if match is None:
            return self._answer(request, 404, error(20404, "The requested resource was not found", 404))
        if not self._authorized(request.headers.get("Authorization", ""), match["account"]):
            return self._answer(request, 401, error(20003, "Authenticate", 401))
        kind = "sms" if match["kind"] == "Messages" else "call"
        if method == "GET" and match["sid"]:
            return self._answer(request, *self._status_of(kind, match["sid"]))
        if method != "POST" or match["sid"]:
            return self._answer(request, 405, error(20004, "Method not allowed", 405))
        self._create(request, kind, {k: v for k, v in form.items()})

    def _authorized(self, header: str, account: str) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}" and account == self.account_sid

    def _create(self, request: BaseHTTPRequestHandler, kind: str, form: dict[str, list[str]]) -> None:
        with self._lock:
            self._requests += 1
            number = self._requests
            failure = self._down or (self._scripted.pop(0) if self._scripted else None)
        hold = self._hold if self._hold and self._hold.request_no == number else None
        if failure is None:
            problem = self._invalid(kind, form)
            if problem:
                failure = problem
        if failure is not None:
            status, code, message = failure
            with self._lock:
                self.attempts.append((time.monotonic(), status, form.get("To", [""])[0]))
            return self._answer(request, status, error(code, message, status))
        if hold and not hold.after_create:
            # The provider never saw it: the connection stays open until the test releases it
            # (it kills the client meanwhile), then closes without an answer.
            hold.reached.set()
            hold.release.wait(60)
            request.close_connection = True
            return None
        def first(key: str) -> str | None:
            return form.get(key, [None])[0]

        created = Created(kind=kind, sid=("SM" if kind == "sms" else "CA") + secrets.token_hex(16),
                          to=first("To"), from_=first("From"), body=first("Body"),
                          media_urls=form.get("MediaUrl", []), twiml=first("Twiml"),
                          timeout=first("Timeout"), machine_detection=first("MachineDetection"),
                          at=time.monotonic())
        with self._lock:
            self.attempts.append((created.at, 201, created.to))
            self.created.append(created)
        if hold:
            # Created at the provider, but the answer has not left yet: the duplicate window.
            hold.reached.set()
            hold.release.wait(60)
        if self.answer_delay_s:
            time.sleep(self.answer_delay_s)
        self._answer(request, 201, {"sid": created.sid, "account_sid": self.account_sid,
                                    "to": created.to, "from": created.from_, "body": created.body,
                                    "status": "queued", "num_media": str(len(created.media_urls)),
                                    "api_version": "2010-04-01"})

    def _invalid(self, kind: str, form: dict[str, list[str]]) -> tuple[int, int, str] | None:
        to, from_ = form.get("To", [""])[0], form.get("From", [""])[0]
        if not E164.match(to) or to in self.invalid_numbers:
            return 400, 21211, f"The 'To' number {to} is not a valid phone number."
        if not E164.match(from_):
            return 400, 21212, f"The 'From' number {from_} is not a valid phone number."
        if kind == "sms" and not (form.get("Body") or form.get("MediaUrl")):
            return 400, 21602, "Message body is required."
        if kind == "call" and not (form.get("Twiml") or form.get("Url")):
            return 400, 21205, "Url or Twiml parameter is required."
        return None

    def _status_of(self, kind: str, sid: str) -> tuple[int, dict]:
        with self._lock:
            found = next((c for c in self.created if c.sid == sid), None)
        if found is None:
            return 404, error(20404, "The requested resource was not found", 404)
        if kind == "sms":
            return 200, {"sid": sid, "status": self.message_status, "error_code": None,
                         "error_message": None, "to": found.to}
        status, answered_by = self.call_outcomes.get(found.to, ("completed", None))
        return 200, {"sid": sid, "status": status, "answered_by": answered_by, "to": found.to}

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        try:
            request.send_response(status)
            request.send_header("Content-Type", "application/json")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client was killed while we held its request


def error(code: int, message: str, status: int) -> dict:
    return {"code": code, "message": message, "status": status,
            "more_info": f"https://www.twilio.com/docs/errors/{code}"}
