"""nearmiss pipeline package."""

__all__ = ["LOG_FORMAT"]

#: How the CLI, and the processes it starts, format log lines on stderr.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
