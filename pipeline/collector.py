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

Only for processes nearmiss owns from start to exit (its command, the ingest process, Prefect's
temporary server): freezing inside someone else's process, a test runner say, would keep that
process's uncollected garbage alive for good.
"""

from __future__ import annotations

import atexit
import gc

__all__ = ["SERVER_LAUNCHER", "freeze_at_exit", "pause", "settle"]


def pause() -> None:
    """Stop automatic collection while the process imports modules and loads models."""
    gc.disable()


def settle() -> None:
    """Exempt every object built so far from later collections, then collect automatically.

    Call once the process holds what it keeps for its life (modules, models); call again after
    loading more.
    """
    gc.freeze()
    gc.enable()


def freeze_at_exit() -> None:
    """Freeze every object when the process exits, after the other exit handlers.

    The collections during interpreter shutdown would otherwise walk everything once more,
    to free memory the operating system is about to take back. Handlers registered later run
    first (:mod:`atexit` is last in, first out), so register this early.
    """
    atexit.register(gc.freeze)


#: ``python -c`` code that starts Prefect's server (uvicorn's command line, arguments after it)
#: with its imports collected as :func:`pause` and :func:`settle` describe.
SERVER_LAUNCHER = (
    "import gc, sys; gc.disable(); "
    "import prefect.server.api.server, uvicorn.main; "
    "gc.freeze(); gc.enable(); "
    "sys.argv[0] = 'uvicorn'; uvicorn.main.main()"
)
