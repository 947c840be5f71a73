"""A TCP port on 127.0.0.1 for a server that a test starts (often in another process)."""

import random
import socket
from pathlib import Path

RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _below_ephemeral() -> tuple[int, int]:
    # The kernel hands ports of the ephemeral range to every outgoing connection and to bind(0):
    # a port found free there can be taken by another socket (a browser's, a webhook client's)
    # in the seconds before the process under test binds it. Ports just below the range are
    # only ever taken by a program that asks for them by number.
    try:
        low = int(RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return max(1024, low - 12000), low - 1


def free_port() -> int:
    first, last = _below_ephemeral()
    for port in random.sample(range(first, last + 1), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port on 127.0.0.1 between {first} and {last}")
