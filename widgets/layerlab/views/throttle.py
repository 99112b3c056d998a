"""`Throttle`: at most one redraw per interval reaches the front end, whatever the burst, and
the newest state is always drawn in the end.

    throttle = Throttle(0.1, send)   # send() sets the widget's value: one message
    throttle.request()               # something changed: send now, or once the interval is up
    throttle.flush()                 # the end of a burst (a watch or a build ended): send now

A request within the interval starts one timer (never more than one); when it fires, `send`
draws whatever is newest then, so the requests in between cost nothing.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class Throttle:
    def __init__(self, interval: float, send: Callable[[], None], clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self._send = send
        self._clock = clock
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._last = float("-inf")
        self.sent = 0

    def request(self) -> None:
        with self._lock:
            if self._timer is not None:
                return  # a redraw is due soon, and it draws whatever is newest then
            wait = self._last + self.interval - self._clock()
            if wait <= 0:
                self._go()
                return
            self._timer = threading.Timer(wait, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def flush(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._go()

    def settle(self) -> None:
        """Send a redraw that is waiting for its turn now; nothing when none is waiting."""
        with self._lock:
            if self._timer is None:
                return
            self._timer.cancel()
            self._timer = None
            self._go()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
            self._go()

    def _go(self) -> None:
        self._last = self._clock()
        self.sent += 1
        self._send()
