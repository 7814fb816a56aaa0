"""The garbage-collector policy of nearmiss's own processes (pipeline.collector).

Each check runs in a fresh interpreter: freezing the test runner's own objects would keep its
garbage alive for the rest of the suite.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap

from pipeline import collector


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_pause_then_settle_freezes_start_up_and_collects_again() -> None:
    out = _python(
        """
        import gc
        from pipeline import collector
        collector.own_process()
        collector.pause()
        print(gc.isenabled())
        kept = [{"n": n} for n in range(1000)]  # what start-up loads
        collector.settle()
        print(gc.isenabled(), gc.get_freeze_count() >= len(kept))
        # Garbage made after start-up is still collected.
        class Cycle:
            pass
        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        del a, b
        print(gc.collect() >= 2)
        """
    )
    assert out.splitlines() == ["False", "True True", "True"]


def test_freeze_at_exit_runs_after_the_handlers_registered_later() -> None:
    out = _python(
        """
        import atexit, gc
        from pipeline import collector
        atexit.register(lambda: print("last", gc.get_freeze_count() > 0))
        collector.own_process()
        atexit.register(lambda: print("first", gc.get_freeze_count() == 0))
        """
    )
    assert out.splitlines() == ["first True", "last True"]


def test_collection_is_tuned_only_in_a_process_of_our_own() -> None:
    frozen = gc.get_freeze_count()
    collector.pause()
    collector.settle()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen  # a caller of ``app`` (this test) is left alone

    out = _python(
        """
        import gc
        from pipeline import collector
        collector.own_process()  # as the console command (pipeline.cli.run) does
        collector.pause()
        print(gc.isenabled())
        collector.settle()
        print(gc.isenabled(), gc.get_freeze_count() > 0)
        """
    )
    assert out.splitlines() == ["False", "True True"]
