"""A second coder forked from the command's process, with the suggester it has already loaded.

Coding uses both cores: chunks are coded in the command's process and in one other. That other
was the ingest process, which, once it has ingested, imports scikit-learn and loads the bundle
again (measured, a 5,000-narrative batch used about 1.5 s less CPU without that).
A :class:`ForkedCoder` is instead a copy of the command's process made with :func:`os.fork`
after it loaded the suggester and before Prefect runs anything: it starts with the model in
memory (shared with the command's process until either writes to it) and codes chunks the flow
hands it, as the ingest process would.

A fork copies one thread and every lock, file and connection as they stand, so it is made only
when that is safe (:func:`why_not_fork`): on Linux, with no thread running but the main one and the
known threads of :mod:`pipeline` that hold nothing the copy uses, and with no database connection
open (the store's pools and the caches' connections are closed just before: SQLite forbids using
a connection across a fork, and an open one would leave the copy with a stale view of its file
locks). Otherwise, or if the copy dies, the ingest process codes as before. The copy never
returns into the caller's code: it serves coding commands until its command pipe closes, then
ends with :func:`os._exit`, running no exit handler of the command's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from pipeline.batch.coding import CodedChunk

__all__ = ["ForkedCoder", "fork_coder", "why_not_fork"]

logger = logging.getLogger(__name__)

#: Seconds to wait for the copy to end after its command pipe closes, before killing it.
_EXIT_WAIT_S = 5.0


def fork_coder(key: tuple[str, Path, str], known_threads: Collection[str]) -> ForkedCoder | None:
    """Fork a coder for ``key`` if this process may (:func:`why_not_fork`); else None.

    Parameters
    ----------
    key : tuple of (str, Path, str)
        As for :class:`ForkedCoder`.
    known_threads : collection of str
        As for :func:`why_not_fork`.
    """
    reason = why_not_fork(known_threads)
    if reason is None:
        _close_connections()
        reason = _open_database_file()
    if reason is not None:
        logger.debug("no forked coder: %s", reason)
        return None
    return ForkedCoder(key)


def why_not_fork(known_threads: Collection[str]) -> str | None:
    """Return why this process must not fork a coder now, or ``None`` if it may.

    Parameters
    ----------
    known_threads : collection of str
        Names of threads that may be running: threads of ours that, in a copy, are simply gone
        (the copy never touches what they hold).
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return f"no fork on {sys.platform}"
    others = [
        thread.name
        for thread in threading.enumerate()
        if thread is not threading.main_thread() and thread.name not in known_threads
    ]
    if others:
        return f"{len(others)} other threads are running"
    if threading.current_thread() is not threading.main_thread():
        return "not called from the main thread"
    return None


class ForkedCoder:
    """A copy of this process that codes chunks, as the ingest process's coding loop does.

    Made by :func:`fork_coder`, which first checks that this process may fork.

    Parameters
    ----------
    key : tuple of (str, Path, str)
        The factory, bundle directory and store URL whose suggester this process has loaded: the
        only chunks the copy codes (:meth:`serves`).

    Notes
    -----
    Commands and replies travel pickled through two pipes, in the protocol of
    :func:`pipeline.batch.ahead._serve_coding`: ``("code", (ids, db_url, bundle_dir,
    factory))``, answered ``("coded", CodedChunk)`` or ``("code-error", exception)``. One chunk
    at a time: the caller serialises :meth:`code`.
    """

    def __init__(self, key: tuple[str, Path, str]) -> None:
        from pipeline.batch.ahead import _serve_coding

        self.key = key
        commands_in, commands_out = os.pipe()
        replies_in, replies_out = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # the copy: never returns
            status = 1
            try:
                os.close(commands_out)
                os.close(replies_in)
                _in_the_copy()
                with open(commands_in, "rb") as commands, open(replies_out, "wb") as replies:

                    def send(kind: str, value: Any) -> None:
                        pickle.dump((kind, value), replies)
                        replies.flush()

                    _serve_coding(commands, send)
                status = 0
            except BaseException:  # noqa: BLE001 - the parent codes the chunk; say nothing here
                logger.debug("the forked coder failed", exc_info=True)
            finally:
                os._exit(status)
        os.close(commands_in)
        os.close(replies_out)
        self.pid = pid
        self._commands: BinaryIO = open(commands_out, "wb")  # noqa: SIM115 - kept until close
        self._replies: BinaryIO = open(replies_in, "rb")  # noqa: SIM115
        self.alive = True
        logger.debug("coder forked as process %s", pid)

    def serves(self, factory: str, bundle_dir: Path, db_url: str) -> bool:
        """Whether the copy codes with this suggester (it has no other loaded)."""
        return self.alive and self.key == (factory, bundle_dir, db_url)

    def code(
        self, ids: Sequence[int], db_url: str, bundle_dir: Path, factory: str
    ) -> CodedChunk | None:
        """Code a chunk in the copy; None if it could not (code it elsewhere).

        A copy that failed or ended is not asked again.
        """
        try:
            self._commands.write(pickle.dumps(("code", (list(ids), db_url, bundle_dir, factory))))
            self._commands.flush()
            kind, value = pickle.load(self._replies)  # noqa: S301 - our own copy
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            kind, value = "ended", error
        if kind == "coded":
            coded: CodedChunk = value
            return coded
        logger.warning("the forked coder failed (%s); coding its chunk here", type(value).__name__)
        self.alive = False
        return None

    def close(self) -> None:
        """End the copy: close its command pipe, wait for it, kill it if it lingers."""
        self.alive = False
        with contextlib.suppress(OSError):
            self._commands.close()
        deadline = time.monotonic() + _EXIT_WAIT_S
        while True:
            try:
                done, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # already reaped
                break
            if done:
                break
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(self.pid, 0)
                break
            time.sleep(0.01)
        with contextlib.suppress(OSError):
            self._replies.close()


def _close_connections() -> None:
    """Close every database connection this process holds, before it forks.

    The store's engines and the caches open new ones on their next use, here and in the copy.
    """
    from pipeline.cache_file import close_connections

    if "pipeline.store.engine" in sys.modules:
        from pipeline.store.engine import dispose_engines

        dispose_engines()
    close_connections()


def _open_database_file() -> str | None:
    """Name a SQLite file this process still has open (its log or shared memory), if any."""
    descriptors = Path("/proc/self/fd")
    for descriptor in descriptors.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(descriptor)
            if target.endswith(("-wal", "-shm", "-journal")):
                return f"a database is still open ({Path(target).name})"
    return None


def _in_the_copy() -> None:
    """Make the copy a plain coding process: its logs to stderr only, no Prefect handler."""
    for name in [None, *logging.Logger.manager.loggerDict]:
        existing = logging.getLogger(name)
        for handler in list(existing.handlers):
            if type(handler).__module__.startswith("prefect"):
                existing.removeHandler(handler)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the copy with its parent
