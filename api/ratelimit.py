"""In-memory sliding-window rate limits for the anonymous public pages (the residents' reports and ratings).

One :class:`SlidingWindow` per kind of key (client address, phone number), kept on ``app.state``: it remembers the
times of the recent hits of each key and refuses a hit when ``limit`` of them fall within the last ``window``
seconds, saying how long until the oldest leaves the window. Per process (a restart forgets; several workers each
count their own), which is what a cheap guard in front of a form needs; keys are hashed so the memory holds no
phone number, and keys whose hits have all left the window are dropped as the map grows.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque


class SlidingWindow:
    """At most ``limit`` hits per key in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def hit(self, key: str, now: float | None = None) -> int | None:
        """Count a hit of ``key``; None when allowed, else the seconds to wait (the hit is then not counted)."""
        now = time.monotonic() if now is None else now
        k = self._key(key)
        with self._lock:
            q = self._hits.setdefault(k, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return max(1, math.ceil(q[0] + self.window - now))
            q.append(now)
            if len(self._hits) > 10_000:
                self._prune(now)
            return None

    def _prune(self, now: float) -> None:
        for k in [k for k, q in self._hits.items() if not q or q[-1] <= now - self.window]:
            del self._hits[k]

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
