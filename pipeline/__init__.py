"""nearmiss pipeline package."""

from pipeline.thinc_import import hide_torch_from_thinc

__all__ = ["LOG_FORMAT"]

#: How the CLI, and the processes it starts, format log lines on stderr.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

hide_torch_from_thinc()  # spaCy without torch: see pipeline.thinc_import
