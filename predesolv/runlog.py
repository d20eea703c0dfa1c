"""``log.txt`` as a :mod:`logging` handler.

While a :class:`~predesolv.rundir.RunDir` holds its lock, a :class:`RunLogHandler` on the
``predesolv`` logger writes into its ``log.txt``: the run's own events (logger
``predesolv.run``, level INFO, written as ``TIME message``) and every warning or error any
predesolv module logs meanwhile (written as ``TIME LEVEL logger: message``). Times are UTC,
ISO 8601. Users can add their own handlers to ``logging.getLogger("predesolv")`` (or the
root logger) to receive the same records, e.g. in a notebook::

    import logging
    logging.getLogger("predesolv").addHandler(logging.StreamHandler())
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path

#: Logger of run events (stage done, checkpoint fallbacks, resume decisions).
RUN_LOGGER = "predesolv.run"
_run_log = logging.getLogger(RUN_LOGGER)
_run_log.setLevel(logging.INFO)  # run events are always recorded in log.txt


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        text = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            text += "\n" + self.formatException(record.exc_info)
        if record.name == RUN_LOGGER and record.levelno == logging.INFO:
            return f"{stamp} {text}"
        return f"{stamp} {record.levelname} {record.name}: {text}"


class RunLogHandler(logging.FileHandler):
    """Append records to one run's ``log.txt`` (created on the first record).

    Records that name another run directory (``extra={"run_dir": ...}``) are skipped, so
    nested or successive runs in one process each keep their own file. A failing write (a
    full disk) never interrupts the run.

    Parameters
    ----------
    log_file : Path
        The ``log.txt`` to append to.
    run_dir : Path
        The run directory this handler belongs to.
    """

    def __init__(self, log_file: Path, run_dir: Path):
        super().__init__(log_file, mode="a", encoding="utf-8", delay=True)
        self.run_dir = str(run_dir)
        self.setFormatter(_Formatter())
        self.addFilter(self._mine)

    def _mine(self, record: logging.LogRecord) -> bool:
        return getattr(record, "run_dir", self.run_dir) == self.run_dir

    def handleError(self, record: logging.LogRecord) -> None:  # logging API name
        pass  # the message also reaches stderr through the exception that follows


def attach(log_file: Path, run_dir: Path) -> RunLogHandler:
    """Start writing predesolv log records to ``log_file``; returns the handler."""
    handler = RunLogHandler(log_file, run_dir)
    logging.getLogger("predesolv").addHandler(handler)
    return handler


def detach(handler: RunLogHandler) -> None:
    """Stop and close a handler made by :func:`attach`."""
    logging.getLogger("predesolv").removeHandler(handler)
    handler.close()


def has_handler(run_dir: Path) -> bool:
    """Whether some :class:`RunLogHandler` for ``run_dir`` is attached now."""
    return any(isinstance(h, RunLogHandler) and h.run_dir == str(run_dir)
               for h in logging.getLogger("predesolv").handlers)


def log_event(run_dir: Path, message: str) -> None:
    """Log one run event for ``run_dir`` (to its ``log.txt`` if its handler is attached)."""
    _run_log.info(message, extra={"run_dir": str(run_dir)})
