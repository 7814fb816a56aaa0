"""CPython's garbage collector in the processes of ``nearmiss batch``.

Importing Prefect, spaCy, scikit-learn and SQLAlchemy builds a few hundred thousand objects that
live as long as the process. The cyclic collector runs many times while they are imported, and
every later full collection, including the ones at interpreter exit, walks all of them again.
They never become garbage, so that work is wasted. Each process of a batch therefore pauses
automatic collection while it starts, then freezes what start-up built (:func:`gc.freeze`: later
collections leave those objects alone) and collects as usual from there. Garbage made after
start-up is collected as before.

Measured on two cores: Prefect's temporary server used 7.6 s of CPU (median of four boots) to
answer its first request, and 6.4 s when started this way; freezing at exit ended a 5,000
narrative batch 0.7 s sooner after its summary was printed.

Only in processes nearmiss owns from start to exit (its command, the ingest process, Prefect's
temporary server), which say so with :func:`own_process`: elsewhere (a test runner calling the
command line's app, say) the functions here do nothing, since freezing someone else's process
would keep its uncollected garbage alive for good.
"""

from __future__ import annotations

import atexit
import gc

__all__ = ["SERVER_LAUNCHER", "own_process", "pause", "settle"]

#: Whether this process is nearmiss's own (:func:`own_process`); until then the functions below
#: leave the collector alone.
_OWN = False


def own_process() -> None:
    """Mark this process as nearmiss's own, from start to exit, and freeze everything at exit.

    The collections during interpreter shutdown would otherwise walk every object once more, to
    free memory the operating system is about to take back. The freeze is an exit handler
    registered now, so it runs after those registered later (:mod:`atexit` is last in, first
    out): call this first thing.
    """
    global _OWN  # noqa: PLW0603 - set once, at the start of the process
    _OWN = True
    atexit.register(gc.freeze)


def pause() -> None:
    """Stop automatic collection while the process imports modules and loads models."""
    if _OWN:
        gc.disable()


def settle() -> None:
    """Exempt every object built so far from later collections, then collect automatically.

    Call once the process holds what it keeps for its life (modules, models); call again after
    loading more.
    """
    if _OWN:
        gc.freeze()
        gc.enable()


#: ``python -c`` code that starts Prefect's server (uvicorn's command line, arguments after it)
#: as one of nearmiss's own processes: collection paused while it imports, then settled.
SERVER_LAUNCHER = (
    "from pipeline import collector; collector.own_process(); collector.pause(); "
    "import sys, prefect.server.api.server, uvicorn.main; collector.settle(); "
    "sys.argv[0] = 'uvicorn'; uvicorn.main.main()"
)
