"""One polling helper for the tests: wait until something a thread, a process or a server does
has happened, without sleeping longer than it takes."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
             give_up: Callable[[], bool] | None = None) -> T:
    """Call `condition` every `interval` seconds until it returns a truthy value, and return that
    value. After `timeout` seconds, or as soon as `give_up()` is true (say, the process being
    waited on has exited), return the condition's value at that moment, falsy unless it came
    true just then: `assert wait_for(...)` fails where the thing never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        if give_up is not None and give_up():
            return condition()
        time.sleep(interval)
