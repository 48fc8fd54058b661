"""Run a function in a child process with a time limit and a memory limit.

GDAL reads files that strangers deliver; a crash (a segfault in a driver), a hang or a read that eats the memory must
cost one child process, never the server. :func:`run_limited` spawns a fresh interpreter (``spawn``: no state shared
with the parent, no SpatiaLite loaded next to GDAL's SQLite), caps its address space with ``RLIMIT_AS``, waits at most
``seconds`` and kills it after; the function's result or exception comes back through a pipe.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from typing import Any


class LimitExceeded(RuntimeError):
    """The child process did not finish: it took too long, ran out of memory or died (``reason`` says which)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)

    def __reduce__(self) -> tuple:
        return LimitExceeded, (self.reason, str(self))


def run_limited(func: Callable[..., Any], *args: Any, seconds: float, memory_bytes: int | None = None) -> Any:
    """``func(*args)`` in a spawned child, killed after ``seconds``; its address space may grow by at most
    ``memory_bytes`` beyond what the interpreter and its imports take (no limit when None).

    ``func`` must be a module-level function (the child imports it by name). Its exception is raised here as it was
    raised there; :class:`LimitExceeded` when the child timed out (``reason`` ``timeout``), ran out of memory
    (``memory``) or died without an answer (``crash``: a signal or an exit code)."""
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(sender, memory_bytes, func, args), daemon=True)
    proc.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise LimitExceeded("timeout", f"reading took longer than {seconds:g} s and was stopped")
        try:
            status, value = receiver.recv()
        except (EOFError, OSError):
            proc.join(5)
            raise LimitExceeded("crash", f"the reader stopped without an answer (exit code {proc.exitcode})") from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receiver.close()
    if status == "error":
        raise value
    return value


def _child(sender: Any, memory_bytes: int | None, func: Callable[..., Any], args: tuple) -> None:
    if memory_bytes is not None:
        limit = _address_space() + memory_bytes
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    try:
        result: tuple[str, Any] = ("ok", func(*args))
    except MemoryError:
        result = ("error", LimitExceeded("memory", "reading needed more memory than the limit allows"))
    except Exception as exc:  # the caller gets the function's own exception
        result = ("error", exc)
    try:
        sender.send(result)
    except Exception as exc:  # an answer that cannot be pickled (or no memory left to pickle it)
        sender.send(("error", LimitExceeded("crash", f"the reader's answer could not be sent back: {exc}")))
    sender.close()


def _address_space() -> int:
    """Bytes of address space this process holds now (VmSize), 0 where /proc is not there."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
