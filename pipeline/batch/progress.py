"""Progress of a long batch: a bar on stderr for people, nothing for machines.

The flow reports progress to whatever :func:`reporting` installed (the CLI installs a
:class:`ProgressBar` when stderr is a terminal); without one, reports go nowhere. Reports carry
counts only.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["NullProgress", "ProgressBar", "ProgressReporter", "current_progress", "reporting"]


class ProgressReporter(Protocol):
    """Receives a batch's progress in narratives."""

    def start(self, total: int | None) -> None:
        """Begin, with the number of narratives to get through; or give it once known.

        ``None``: not known yet (chunks are coded while the ingest goes on); a later call gives
        it, and what was done meanwhile stays counted.
        """
        ...

    def advance(self, count: int) -> None:
        """Record ``count`` more narratives done."""
        ...

    def close(self) -> None:
        """Finish (remove or complete the display)."""
        ...


class NullProgress:
    """Ignore progress (the default)."""

    def start(self, total: int | None) -> None:
        """Do nothing."""

    def advance(self, count: int) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


class ProgressBar:
    """A progress bar on stderr (rich), with narratives done, rate and time left."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int | None) -> None:
        """Show the bar, or set its total (``None``: not known yet, the bar pulses)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, total=total)
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("coding"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("narratives"),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("coding", total=total)

    def advance(self, count: int) -> None:
        """Move the bar on."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, count)

    def close(self) -> None:
        """Remove the bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


_CURRENT: ContextVar[ProgressReporter | None] = ContextVar("nearmiss_progress", default=None)


def current_progress() -> ProgressReporter:
    """Return the reporter installed by :func:`reporting`, or a :class:`NullProgress`."""
    return _CURRENT.get() or NullProgress()


@contextmanager
def reporting(reporter: ProgressReporter) -> Iterator[ProgressReporter]:
    """Install a progress reporter for the code run inside the block, and close it after.

    Parameters
    ----------
    reporter : ProgressReporter
        Where progress goes.

    Yields
    ------
    ProgressReporter
        The same reporter.
    """
    token = _CURRENT.set(reporter)
    try:
        yield reporter
    finally:
        reporter.close()
        _CURRENT.reset(token)
