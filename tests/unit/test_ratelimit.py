"""The residents' pages' sliding-window limit (api.ratelimit): allows ``limit`` hits per key in any window, says how
long to wait, forgets hits that left the window, keeps keys apart."""

from __future__ import annotations

from api.ratelimit import SlidingWindow


def test_the_window_slides():
    w = SlidingWindow(2, 60)
    assert w.hit("a", now=0) is None and w.hit("a", now=10) is None
    assert w.hit("a", now=20) == 40  # the first hit leaves the window at 60
    assert w.hit("b", now=20) is None  # another key counts apart
    assert w.hit("a", now=60.5) is None  # the first hit has left; the refused one was not counted
    assert w.hit("a", now=61) == 9
    assert "a" not in w._hits and len(w._hits) == 2  # keys are kept hashed, never as given
