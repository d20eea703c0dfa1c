"""What one MD stage reads and writes besides the Simulation: its reporters and row/frame
counts (:class:`StageOutputs`) and the SIGINT/SIGTERM flag (:class:`InterruptFlag`)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import openmm
from openmm import app, unit

from predesolv.built import BuiltSystem
from predesolv.config import RunConfig
from predesolv.config.simulation import MinimizeStage, ProductionStage
from predesolv.errors import ConfigError, Interrupted
from predesolv.reporters import ProgressReporter, StateCSVReporter, TrajectoryReporter
from predesolv.rundir import Checkpoint, Progress, RunDir, truncate_dcd, truncate_xtc
from predesolv.transforms import SystemTransform


@dataclass
class StageStart:
    """Where a stage starts: the previous state (or None: the built positions), whether it
    carries velocities, and the binary checkpoint to load when resuming inside the stage."""

    state: openmm.State | None = None
    has_velocities: bool = False
    checkpoint: Checkpoint | None = None
    binary: bytes | None = None


class StageHost(Protocol):
    """What a stage's outputs read from the runner that drives it
    (:class:`predesolv.runner.Runner`)."""

    cfg: RunConfig
    built: BuiltSystem
    rundir: RunDir
    system: openmm.System
    bias: SystemTransform | None
    offsets: np.ndarray
    dt: unit.Quantity
    dt_ps: float
    user_reporters: list[Any]


#: Environment variable holding the wall-clock time (UNIX seconds) at which every run of this
#: process and of the worker processes it starts stops cleanly (``--stop-after``).
STOP_AT_ENV = "PREDESOLV_STOP_AT"
_UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0}


def parse_duration_s(text: str) -> float:
    """Seconds in ``"90 s"``, ``"50 min"``, ``"3.5 h"`` or ``"HH:MM:SS"`` (a scheduler's
    wall time).

    Raises
    ------
    ConfigError
        Anything else, or a duration that is not positive (field ``--stop-after``).
    """
    t = text.strip()
    try:
        if ":" in t:
            h, m, sec = (float(v) for v in t.split(":"))
            seconds = 3600 * h + 60 * m + sec
        else:
            value, _, name = t.partition(" ")
            seconds = float(value) * _UNITS_S[name.strip()]
    except (ValueError, KeyError):
        seconds = float("nan")
    if not seconds > 0:
        raise ConfigError(f"{text!r} is not a positive duration: give '90 s', '50 min', "
                          f"'3.5 h' or 'HH:MM:SS'", "--stop-after")
    return seconds


def set_stop_after(text: str) -> float:
    """Ask every run started from now on (here and in worker processes started later) to
    write a checkpoint and stop once ``text`` of wall time has passed; returns the stop time
    (UNIX seconds)."""
    stop_at = time.time() + parse_duration_s(text)
    os.environ[STOP_AT_ENV] = f"{stop_at:.3f}"
    return stop_at


@contextmanager
def sigterm_stops(message: str) -> Iterator[None]:
    """While inside, SIGTERM (a batch system's time limit, ``kill``) raises
    :class:`~predesolv.errors.Interrupted` with ``message`` (the CLI's clean stop, exit 130)
    where no run's own handler (:class:`InterruptFlag`) has taken over; the old handler comes
    back on exit. Outside the main thread it does nothing."""
    def stop(signum: int, frame: object) -> None:
        raise Interrupted(message)

    try:
        old = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not in the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class InterruptFlag:
    """SIGINT/SIGTERM handler: the first asks for a checkpoint and a clean stop (batch
    schedulers send SIGTERM before killing a job); a second Ctrl-C aborts at once. A stop
    time in :data:`STOP_AT_ENV` asks for the same clean stop when it has passed (it also
    works in worker threads and processes, where no signal handler can be installed)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.set = False
        self._old: dict[int, Any] = {}

    def requested(self) -> bool:
        """A stop was asked for: a signal, or the stop time has passed."""
        if not self.set:
            stop_at = os.environ.get(STOP_AT_ENV)
            if stop_at and time.time() >= float(stop_at):
                self.set = True
                sys.stderr.write("\nthe --stop-after time has passed: writing a checkpoint, "
                                 "then stopping\n")
        return self.set

    def __enter__(self) -> InterruptFlag:
        for sig in self.SIGNALS:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not in the main thread (e.g. a Dask worker)
                continue
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True
        sys.stderr.write(f"\n{signal.Signals(signum).name} received: writing a checkpoint, "
                         f"then stopping (Ctrl-C again to abort without one)\n")

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class StageOutputs:
    """The reporters of one MD stage (state.csv always; the trajectory in production) and
    the row/frame counts they add to those of the checkpoint the stage started from."""

    def __init__(self, runner: StageHost, i: int, start: StageStart, progress: Progress):
        cfg, rd = runner.cfg, runner.rundir
        first, last = int(runner.offsets[i]), int(runner.offsets[i + 1])
        base = start.checkpoint or progress.latest
        self.rows_base = base.state_rows if base else 0
        self.frames_base = base.frames if base else 0
        self._csv = open(rd.state, "a")
        self.state = StateCSVReporter(self._csv, cfg.interval_steps("state"),
                                      cfg.stage_label(i), runner.system, runner.bias)
        self.trajectory: TrajectoryReporter | None = None
        reporters: list[Any] = []
        if runner.bias is not None:  # e.g. the mover of a steered centre
            reporters += runner.bias.stage_reporters(i, len(cfg.stages), first, runner.dt_ps)
        reporters.append(self.state)
        if isinstance(cfg.stages[i], ProductionStage):
            if not rd.trajectory_left_out(cfg.output.trajectory.format):
                self.trajectory = self._open_trajectory(runner, first,
                                                        start.checkpoint is not None)
                reporters.append(self.trajectory)
            reporters += list(runner.user_reporters)  # the caller's own (predesolv.run)
        show = {"on": True, "off": False}.get(cfg.output.progress, sys.stderr.isatty())
        n_steps = last - first
        self.progress_bar = ProgressReporter(
            cfg.stage_label(i), first, last, runner.dt_ps,
            max(1, min(cfg.interval_steps("state"), n_steps // 100 or 1)), show)
        reporters.append(self.progress_bar)
        self._sim_reporters = reporters

    def _open_trajectory(self, runner: StageHost, first: int, mid: bool) -> TrajectoryReporter:
        cfg = runner.cfg
        fmt = cfg.output.trajectory.format
        path = runner.rundir.trajectory(fmt)
        every = cfg.interval_steps("trajectory")
        append = mid and path.exists() and self.frames_base > 0
        if append:
            (truncate_dcd if fmt == "dcd" else truncate_xtc)(path, self.frames_base)
        else:
            self.frames_base = 0
        return TrajectoryReporter(str(path), every, runner.built.topology, runner.dt,
                                  (first // every + 1) * every, fmt, append)

    def attach(self, sim: app.Simulation) -> None:
        sim.reporters.extend(self._sim_reporters)

    def counts(self, flush: bool = False) -> tuple[int, int]:
        """(state.csv rows, trajectory frames) written so far in the run."""
        if flush:
            self.state.flush()
            if self.trajectory is not None:
                self.trajectory.flush()
        frames = self.frames_base + (self.trajectory.frames_written if self.trajectory else 0)
        return self.rows_base + self.state.rows_written, frames

    def close(self) -> None:
        self._csv.close()
        if self.trajectory is not None:
            self.trajectory.close()


def stage_start_line(runner: StageHost, i: int, mid: bool) -> str:
    """The log line written when stage ``i`` starts: what it does and how long it is."""
    st, label = runner.cfg.stages[i], runner.cfg.stage_label(i)
    if isinstance(st, MinimizeStage):
        cap = st.max_iterations or "no cap"
        return (f"{label}: minimising (tolerance {st.tolerance}, at most {cap} iterations; "
                f"the energy is logged when it ends)")
    n = int(runner.offsets[i + 1] - runner.offsets[i])
    kind = type(st).__name__.replace("Stage", "")
    return (f"{label}: {'resuming' if mid else 'starting'} {kind} MD, {n} steps = "
            f"{n * runner.dt_ps:.6g} ps (state.csv every "
            f"{runner.cfg.interval_steps('state')} steps)")
