"""OpenMM reporters used by the runner (``describeNextReport`` / ``report`` protocol).

* :class:`StateCSVReporter` — ``state.csv`` rows (energies, T, volume, density, ns/day) and
  the blow-up check (non-finite energy → :class:`SimulationBlowUpError`).
* :class:`TrajectoryReporter` — DCD or XTC frames, counting what it wrote so that a resume
  can truncate the file to the last checkpoint.
* :class:`ProgressReporter` — a tqdm progress bar with ns/day and ETA on a terminal.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import Any, BinaryIO, TextIO

import openmm
from openmm import app, unit
from tqdm import tqdm

from predesolv.constants import AVOGADRO_PER_MOL, KB_KJ_PER_MOL_K
from predesolv.errors import ConfigError, SimulationBlowUpError

STATE_COLUMNS = (
    "step",
    "time (ps)",
    "stage",
    "potential_energy (kJ/mol)",
    "kinetic_energy (kJ/mol)",
    "total_energy (kJ/mol)",
    "temperature (K)",
    "volume (nm^3)",
    "density (g/mL)",
    "speed (ns/day)",
)


def degrees_of_freedom(system: openmm.System) -> int:
    """Kinetic degrees of freedom: 3 per massive particle, minus constraints, minus 3 for a
    CMMotionRemover. Mass-0 (frozen) particles contribute nothing, as in OpenMM's
    StateDataReporter."""
    dof = sum(
        3 for i in range(system.getNumParticles())
        if system.getParticleMass(i).value_in_unit(unit.dalton) > 0
    )
    for i in range(system.getNumConstraints()):
        p1, p2, _ = system.getConstraintParameters(i)
        if (
            system.getParticleMass(p1).value_in_unit(unit.dalton) > 0
            or system.getParticleMass(p2).value_in_unit(unit.dalton) > 0
        ):
            dof -= 1
    if any(isinstance(f, openmm.CMMotionRemover) for f in system.getForces()):
        dof -= 3
    return dof


class StateCSVReporter:
    """Append one CSV row every ``interval`` steps; raise on a non-finite energy.

    Parameters
    ----------
    file : text file
        Open for appending; the header is written by the caller once.
    interval : int
        Steps between rows.
    stage : str
        Stage label written in each row.
    system : openmm.System
        For degrees of freedom and total (non-frozen) mass.
    """

    def __init__(self, file: TextIO, interval: int, stage: str, system: openmm.System,
                 extra: Any = None):
        self._extra = extra  # has .columns and .row(context, state) (a run's bias)
        self._file = file
        self._interval = interval
        self._stage = stage
        self._dof = max(degrees_of_freedom(system), 1)
        mass = sum(
            system.getParticleMass(i).value_in_unit(unit.dalton)
            for i in range(system.getNumParticles())
        )
        self._mass_g = mass / AVOGADRO_PER_MOL
        self._last_wall: float | None = None
        self._last_time_ps: float | None = None
        self.rows_written = 0

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        steps = self._interval - simulation.currentStep % self._interval
        include = ["energy", "positions"] if self._extra is not None else ["energy"]
        return {"steps": steps, "periodic": None, "include": include}

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        pe = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        ke = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        step = simulation.currentStep
        if not (math.isfinite(pe) and math.isfinite(ke)):
            raise SimulationBlowUpError(
                f"stage {self._stage!r}, step {step}: energy is not finite (potential {pe}, "
                f"kinetic {ke}); the system blew up. Last good checkpoint kept. Try a smaller "
                f"time step, a longer minimisation/equilibration, or check the input structure"
            )
        t_ps = state.getTime().value_in_unit(unit.picosecond)
        vol = state.getPeriodicBoxVolume().value_in_unit(unit.nanometer**3)
        temp = 2.0 * ke / (self._dof * KB_KJ_PER_MOL_K)
        dens = self._mass_g / (vol * 1e-21) if vol > 0 else float("nan")
        now = time.perf_counter()
        speed = float("nan")
        if self._last_wall is not None and self._last_time_ps is not None and now > self._last_wall:
            speed = (t_ps - self._last_time_ps) / 1000.0 / ((now - self._last_wall) / 86400.0)
        self._last_wall, self._last_time_ps = now, t_ps
        extra = ""
        if self._extra is not None:
            extra = "".join(f",{v:.8g}" for v in self._extra.row(simulation, state))
        self._file.write(
            f"{step},{t_ps:.6f},{self._stage},{pe:.6f},{ke:.6f},{pe + ke:.6f},{temp:.4f},"
            f"{vol:.6f},{dens:.6f},{speed:.4g}{extra}\n"
        )
        self._file.flush()  # rows visible as written (tail -f state.csv); a checkpoint fsyncs
        self.rows_written += 1

    def flush(self) -> None:
        """Push written rows to the file (called before every checkpoint)."""
        self._file.flush()


class TrajectoryReporter:
    """DCD or XTC writer that counts frames (for resume) and can flush on demand.

    Parameters
    ----------
    path : str
        Output file (``.dcd`` or ``.xtc``).
    interval : int
        Steps between frames.
    topology : openmm.app.Topology
    dt : openmm.unit.Quantity
        Time step.
    first_step : int
        Global step of the first frame this reporter will write.
    append : bool
        Continue an existing file (resume).
    """

    def __init__(
        self,
        path: str,
        interval: int,
        topology: app.Topology,
        dt: Any,
        first_step: int,
        fmt: str = "dcd",
        append: bool = False,
    ):
        self._interval = interval
        self._fmt = fmt
        self.frames_written = 0
        self._fh: BinaryIO | None
        if fmt == "dcd":
            self._fh = open(path, "r+b" if append else "wb")
            self._writer = app.DCDFile(self._fh, topology, dt, first_step, interval, append)
        elif fmt == "xtc":
            self._fh = None
            self._writer = app.XTCFile(path, topology, dt, first_step, interval, append)
        else:
            raise ConfigError(f"unknown trajectory format {fmt!r}; use dcd or xtc",
                              "output.trajectory.format")

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        steps = self._interval - simulation.currentStep % self._interval
        return {"steps": steps, "periodic": True, "include": ["positions"]}

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        self._writer.writeModel(
            state.getPositions(asNumpy=True), periodicBoxVectors=state.getPeriodicBoxVectors()
        )
        self.frames_written += 1

    def flush(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None and not self._fh.closed:
            self.flush()
            self._fh.close()


class ProgressReporter:
    """Progress bar (tqdm) with steps, ns/day and ETA on stderr (silent unless ``enabled``).

    Parameters
    ----------
    stage : str
        Label shown before the bar.
    first_step, last_step : int
        Global steps at which the stage starts (or resumes) and ends.
    dt_ps : float
        Time step (ps), for ns/day.
    interval : int
        Steps between updates.
    enabled : bool
        Usually ``sys.stderr.isatty()``.
    stream : TextIO, optional
        Where the bar is drawn (default: the current ``sys.stderr``).
    """

    def __init__(
        self, stage: str, first_step: int, last_step: int, dt_ps: float, interval: int,
        enabled: bool, stream: TextIO | None = None,
    ):
        self._stage = stage
        self._first, self._last = first_step, last_step
        self._dt_ps = dt_ps
        self._interval = max(1, interval)
        self.enabled = enabled
        self._stream = stream
        self._bar: tqdm | None = None
        self._t0 = time.perf_counter()
        self._step0: int | None = None

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        steps = self._interval - simulation.currentStep % self._interval
        return {"steps": steps, "periodic": None, "include": []}

    def report(self, simulation: app.Simulation, state: openmm.State) -> None:
        if not self.enabled:
            return
        step = simulation.currentStep
        if self._bar is None:
            self._step0, self._t0 = step, time.perf_counter()
            self._bar = tqdm(total=self._last - self._first, initial=step - self._first,
                             desc=self._stage, unit="step", unit_scale=True,
                             file=self._stream or sys.stderr, dynamic_ncols=True,
                             leave=True, mininterval=0.5)
            return
        elapsed = time.perf_counter() - self._t0
        done = step - (self._step0 or 0)
        nsday = done * self._dt_ps / 1000.0 / (elapsed / 86400.0) if elapsed > 0 else 0.0
        self._bar.set_postfix_str(f"{nsday:.2f} ns/day", refresh=False)
        self._bar.update(step - self._first - self._bar.n)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
