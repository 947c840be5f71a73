"""Text that came from outside (a recorder's event, a camera's folder name, a config URL) made
safe for the place it goes: a URL path segment, an MQTT topic level, a file name, a log line.

Recorders and cameras are not trusted: a Frigate event id `x/../../restart?` put into a URL path
unescaped reaches another endpoint, a `+` or `/` in a camera name changes what an MQTT topic
means, a newline in a camera name forges a log line. Every such value goes through one of these
functions on its way out, and every URL shown to a person goes through `masked_url`.
"""

from __future__ import annotations

import re
import urllib.parse

# userinfo of an authority: scheme://user:password@host
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/\s]*):(?P<secret>[^@/\s]*)@")
# credentials in a query string or a form: token=..., pass=..., password=..., auth=...
_SECRET_PARAMS = re.compile(r"(?P<key>(?:token|pass|password|passwd|auth|secret|api_key|apikey)=)"
                            r"[^&\s'\"]+", re.IGNORECASE)
MAX_FIELD = 200
MAX_ESCAPED = 4 * MAX_FIELD


def masked_url(text: str) -> str:
    """A URL (or a message that contains URLs) with every password and token replaced by ***:
    `rtsp://admin:hunter2@cam/` -> `rtsp://admin:***@cam/`, `...?token=abc` -> `...?token=***`."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m['key']}***", text)


def url_segment(value: str) -> str:
    """`value` as one URL path segment: every reserved character escaped, `/` and `?` included,
    and the dot segments `.` and `..` (which a server resolves as 'this/parent folder') too.
    An empty value has no segment (`a//b` is another path): ValueError."""
    if not value:
        raise ValueError("an empty value cannot be a URL path segment")
    quoted = urllib.parse.quote(value, safe="")
    if quoted in (".", ".."):
        return quoted.replace(".", "%2E")
    return quoted


def topic_level(value: str) -> str:
    """`value` as one MQTT topic level: the level separator `/`, the wildcards `+` and `#`,
    NUL (forbidden by MQTT 3.1.1 section 1.5.3), control characters and spaces become `_`;
    an empty value becomes `_` (an empty level would merge with its neighbour's meaning)."""
    return re.sub(r"[/+#\s]", "_", printable(value)) or "_"


def file_name(value: str, limit: int = 100) -> str:
    """`value` as a file name: letters, digits, `-`, `_` and `.` kept, the rest `_`; never a
    dot name (`.`, `..`, hidden files) and never longer than `limit`."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", value)[:limit]
    return "_" + safe[1:] if not safe or safe[0] == "." else safe


def log_field(value: object) -> str:
    """A value for a `key=value` log field: as it is when it is plain, else quoted with every
    control character escaped, so that it cannot end the line or pass for another field."""
    text = str(value)
    if len(text) > MAX_FIELD:
        text = text[:MAX_FIELD] + "..."
    if text and re.fullmatch(r"[A-Za-z0-9._:/@+-]+", text):
        return text
    # An escape is up to 10 characters (\U0001f600), so the cap applies to the escaped text too,
    # cut between escapes, never inside one.
    escaped, length = [], 0
    for ch in text:
        piece = ch.encode("unicode_escape").decode("ascii").replace('"', '\\"')
        if length + len(piece) > MAX_ESCAPED:
            escaped.append("...")
            break
        escaped.append(piece)
        length += len(piece)
    return '"' + "".join(escaped) + '"'


def printable(value: str) -> str:
    """A name from outside (a folder name, a monitor name) with every character Python does not
    call printable replaced by `_`: control characters, line and paragraph separators (a log
    reader takes them as a new line), lone surrogates (not encodable as UTF-8), unassigned code
    points. So it can serve as a camera name in logs, metrics, MQTT topics and alerts."""
    return "".join(ch if ch.isprintable() or ch == " " else "_" for ch in value)
