"""The protocol runner: stages in order, reporters, verified checkpoints, resume, faults.

:class:`Runner` takes a :class:`~predesolv.config.RunConfig` and a
:class:`~predesolv.built.BuiltSystem` and writes a run directory (owned by
:class:`~predesolv.rundir.RunDir`, layout in :mod:`predesolv.layout`); :meth:`Runner.resume`
continues one. It never builds or analyses.

Resume semantics: every ``output.checkpoint_interval`` (and at the end of every stage) the
runner flushes ``state.csv`` and the trajectory, writes a binary checkpoint (which keeps the
Langevin random stream) plus a portable State XML, then atomically updates ``progress.json``
with the step, the trajectory frames and ``state.csv`` rows at that instant and each file's
size and SHA-256. Resume verifies the files, falls back (binary → XML → previous checkpoint,
logged), cuts ``state.csv`` and the trajectory back to the chosen checkpoint and continues,
so nothing is duplicated and at most one checkpoint interval is redone.

Signals: SIGINT/SIGTERM are checked between blocks of steps whose length is bounded by the
measured speed (:data:`SIGNAL_LATENCY_S`), so a batch scheduler's grace period is respected.
"""

from __future__ import annotations

import copy
import errno
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from predesolv import layout
from predesolv.atomic import atomic_write_text
from predesolv.built import BuiltSystem
from predesolv.config import RunConfig, resolved_yaml
from predesolv.config.compare import check_resume_config
from predesolv.config.simulation import (
    BAROSTAT_AXES,
    MinimizeStage,
    NPTStage,
    ProductionStage,
    barostat_problem,
)
from predesolv.errors import (
    ConfigError,
    Interrupted,
    PredesolvError,
    PredesolvRuntimeError,
    RunDirectoryError,
    SimulationBlowUpError,
)
from predesolv.platforms import is_pocl, select_platform
from predesolv.provenance import provenance, record_platform_properties
from predesolv.reporters import STATE_COLUMNS
from predesolv.rundir import Checkpoint, Progress, RunDir
from predesolv.simulation import make_integrator, prepare_system, stage_seed
from predesolv.stage_io import InterruptFlag as _InterruptFlag
from predesolv.stage_io import StageOutputs as _StageOutputs
from predesolv.stage_io import StageStart, stage_start_line
from predesolv.transforms import SystemTransform, make_transform

#: Largest number of steps between two checks of the interrupt flag.
MAX_CHUNK_STEPS = 1000
#: Target wall time (s) between two checks of the interrupt flag (blocks are sized from the
#: measured speed, so a SIGTERM is honoured within about this time plus one checkpoint).
SIGNAL_LATENCY_S = 2.0
__all__ = ["Interrupted", "RunResult", "Runner", "preflight"]


@dataclass
class RunResult:
    """Summary of a finished (or resumed-and-finished) run."""

    run_dir: Path
    platform: str
    steps: int
    frames: int
    state_rows: int


def preflight(cfg: RunConfig, built: BuiltSystem) -> None:
    """Checks that need the built system (frozen atoms, geometry) — before anything is written.

    Raises
    ------
    ConfigError
        A stage's barostat cannot act on this system (see
        :func:`predesolv.config.simulation.barostat_problem`: frozen particles under an
        isotropic barostat, an axis the builder fixed, a system that needs a fixed box);
        a bias whose position CV starts in its periodic cut band (the transform's
        ``check_start``, :mod:`predesolv.transforms`).
    """
    frozen = bool(built.frozen_indices())
    fixed_axes = set(built.metadata.fixed_axes())
    fixed_box = built.metadata.requires.fixed_box
    for i, st in enumerate(cfg.stages):
        kind = st.barostat_kind
        why = kind and barostat_problem(kind, frozen=frozen, fixed_axes=fixed_axes,
                                        fixed_box=fixed_box)
        if why:
            raise ConfigError(why, f"stages[{i}].barostat")
    if cfg.bias is not None:  # a bias or wall must not start in its CV's periodic cut band
        make_transform(cfg.bias, built, "bias").check_start(built)


def _make_barostat(kind: str, pressure: Any, temperature: Any, frequency: int) -> openmm.Force:
    if kind == "isotropic":
        return openmm.MonteCarloBarostat(pressure, temperature, frequency)
    axes = BAROSTAT_AXES[kind]
    p = pressure.value_in_unit(unit.bar)
    return openmm.MonteCarloAnisotropicBarostat(
        openmm.Vec3(p, p, p) * unit.bar, temperature, "x" in axes, "y" in axes, "z" in axes,
        frequency,
    )


class Runner:
    """Run the stages of ``cfg`` on ``built`` into ``run_dir`` (a new run).

    Parameters
    ----------
    cfg : RunConfig
        Resolved config (seeds drawn).
    built : BuiltSystem
        The system; it is not modified (hydrogen masses are repartitioned on a copy, as
        ``simulation.hydrogen_mass`` asks, by :func:`predesolv.simulation.prepare_system`).
    run_dir : str, Path or RunDir
    platform : str, optional
        Overrides ``simulation.platform`` (CLI ``--platform``).

    Use :meth:`resume` to continue an existing run directory.
    """

    def __init__(self, cfg: RunConfig, built: BuiltSystem, run_dir: str | Path | RunDir,
                 platform: str | None = None):
        self._setup(cfg, built, run_dir, platform, prepare_system(built, cfg.simulation))
        if self.bias is not None:
            self.bias.add_to(self.system)  # system.xml holds the restraints
        self._resuming = False

    @classmethod
    def resume(cls, run_dir: str | Path | RunDir, platform: str | None = None,
               config: RunConfig | None = None, extend: bool = False,
               device_index: str | None = None) -> Runner:
        """A runner that continues the run in ``run_dir`` with its own config and system.

        Parameters
        ----------
        config : RunConfig, optional
            The config the user resumes with: refused if it changes the physics (with
            ``extend``, a longer last stage is allowed and recorded).

        Raises
        ------
        RunDirectoryError
            No complete run in ``run_dir``.
        ConfigError
            ``config`` differs from the run's ``config.yaml``.
        """

        rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        if not rd.has_inputs():
            what = "no config.yaml" if not rd.config.is_file() else "incomplete input files"
            raise RunDirectoryError(
                f"output.directory: {rd.path} holds no predesolv run to resume ({what}); run "
                f"without --resume (an incomplete folder is replaced)")
        stored = rd.load_config()
        cfg, extended = stored, False
        if config is not None:
            extended = check_resume_config(stored, config, extend)
            cfg = config if extended else stored
        built = rd.load_built()
        self = cls.__new__(cls)
        # system.xml already holds the prepared system (masses repartitioned once, at start).
        self._setup(cfg, built, rd, platform, copy.deepcopy(built.system), device_index)
        if self.bias is not None and rd.state.is_file():
            self.bias.match_state_header(rd.state)  # a run from before wall columns
        self._resuming, self._extended = True, extended
        return self

    def _setup(self, cfg: RunConfig, built: BuiltSystem, run_dir: str | Path | RunDir,
               platform: str | None, system: openmm.System,
               device_index: str | None = None) -> None:
        self.cfg = cfg
        self.built = built
        self.rundir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
        self.run_dir = self.rundir.path
        sim = cfg.simulation
        self.platform, self.properties = select_platform(
            platform or sim.platform, sim.precision, device_index or sim.device_index,
            sim.cpu_threads
        )
        self.bias: SystemTransform | None = (
            None if cfg.bias is None else make_transform(cfg.bias, built, "bias"))
        self.dt = sim.timestep
        self.dt_ps = self.dt.value_in_unit(unit.picosecond)
        self.offsets = np.cumsum([0] + [cfg.stage_steps(i) for i in range(len(cfg.stages))])
        self.system = system
        #: The caller's OpenMM reporters, on every production stage (predesolv.run).
        self.user_reporters: list[Any] = []
        self._flag: Any = None
        self._extended = False
        self._properties_used: dict[str, str] | None = None

    # ----------------------------------------------------------------- inputs
    def write_inputs(self, overwrite: bool) -> None:
        """Create the run directory and write config, provenance, system, topology, metadata."""
        rd = self.rundir
        held = rd.is_locked_by_me
        rd.acquire()
        try:
            rd.clear_for_new_run(overwrite)
            rd.write_inputs(
                resolved_yaml(self.cfg), self.system, self.built.topology, self.built.positions,
                self.built.metadata, provenance=provenance({
                    "kind": "run",
                    "platform": self.platform.getName(),
                    "platform_properties_requested": self.properties,
                    "simulation_seed": self.cfg.simulation.seed,
                    "system_seed": self.cfg.system.seed,
                    "n_atoms": self.system.getNumParticles(),
                    "n_frozen": len(self.built.frozen_indices()),
                }),
                state_header=",".join(f'"{c}"' for c in self.state_columns) + "\n")
        finally:
            if not held:
                rd.release()
        rd.log(f"run created on platform {self.platform.getName()} {self.properties}")

    @property
    def state_columns(self) -> list[str]:
        """Columns of ``state.csv``: the standard ones plus the bias's (CV, centre, ...)."""
        return list(STATE_COLUMNS) + (self.bias.columns if self.bias is not None else [])

    # ------------------------------------------------------------------ run
    def run(self, overwrite: bool = False) -> RunResult:
        """Run every stage (a new run) or the remaining ones (after :meth:`resume`).

        The run directory's lock is held throughout (taken here unless the caller holds it).

        Raises
        ------
        SimulationBlowUpError
            Non-finite energy or coordinates, or OpenMM stopped (stage and step named).
        Interrupted
            SIGINT/SIGTERM; a checkpoint was written first.
        PredesolvRuntimeError
            A file could not be written (e.g. disk full); stage and step are named.
        """
        rd = self.rundir
        held = rd.is_locked_by_me
        rd.acquire()
        try:
            return self._run_locked(overwrite)
        except PredesolvError as exc:
            rd.log(f"failed: {exc}")
            raise
        finally:
            if not held:
                rd.release()

    def _run_locked(self, overwrite: bool) -> RunResult:
        if self._resuming:
            progress, first, start = self._prepare_resume()
            if progress.completed:
                return self._finish(progress, None)
        else:
            self.write_inputs(overwrite)
            progress, first, start = Progress(), 0, StageStart()
        state = start.state
        with _InterruptFlag() as flag:
            self._flag = flag
            for i in range(first, len(self.cfg.stages)):
                mid = start.checkpoint is not None and i == start.checkpoint.stage_index
                self.rundir.log(stage_start_line(self, i, mid))
                if isinstance(self.cfg.stages[i], MinimizeStage):
                    state, progress = self._minimize(i, state, progress)
                    start = StageStart(state, False)
                else:
                    state, progress = self._md(i, start if mid else replace(
                        start, state=state, checkpoint=None, binary=None), progress)
                    start = StageStart(state, True)
                if i < len(self.cfg.stages) - 1 and flag.set:
                    raise self._interrupted(i, int(self.offsets[i + 1]))
        return self._finish(progress, state)

    def _interrupted(self, i: int, step: int) -> Interrupted:
        label = self.cfg.stage_label(i)
        self.rundir.log(f"interrupted at stage {label} step {step}; checkpoint written")
        return Interrupted(f"interrupted at stage {label!r}, step {step}; checkpoint written",
                           "Continue with: predesolv run CONFIG --resume")

    def _finish(self, progress: Progress, state: openmm.State | None) -> RunResult:
        rd = self.rundir
        if state is not None or not rd.final_state.is_file():
            if state is None:  # a finished run missing final_state.xml: rebuild it
                state = self.rundir.verified_state(progress.checkpoints[0])
                rd.log("final_state.xml was missing; rewritten from the last verified checkpoint")
            atomic_write_text(rd.final_state, openmm.XmlSerializer.serialize(state))
            rd.log("run complete")
        last = progress.latest
        assert last is not None
        return RunResult(self.run_dir, self.platform.getName(), last.global_step, last.frames,
                         last.state_rows)

    # ----------------------------------------------------------- resume
    def _prepare_resume(self) -> tuple[Progress, int, StageStart]:
        """Choose the newest checkpoint that verifies, cut the outputs back to it."""
        rd = self.rundir
        progress = rd.read_progress()
        if progress is None or progress.latest is None:
            # Stopped before the first checkpoint (or never started, e.g. a window whose
            # inputs were written in advance): start over from the stored inputs.
            begun = rd.truncate_state(0) > 0  # state rows written by an earlier attempt
            rd.log("resuming before the first checkpoint: starting from stage 0" if begun
                   else "starting from stage 0 (inputs written earlier, no MD run yet)")
            return Progress(), 0, StageStart()
        if self._extended:
            progress = self._extend_last_stage(progress)
        if progress.completed:
            rd.log("resume: the run is already complete")
            return progress, len(self.cfg.stages), StageStart()
        for n, ck in enumerate(progress.checkpoints):
            start = self._load_checkpoint(ck)
            if start is None:
                continue
            if n > 0:
                rd.log(f"falling back to the previous checkpoint (global step {ck.global_step})")
            self._check_trajectory(ck)
            rd.truncate_state(ck.state_rows)
            kept = Progress(progress.checkpoints[n:], False)
            rd.write_progress(kept)
            rd.log(f"resuming at stage {ck.stage} step {ck.global_step}")
            first = ck.stage_index + (1 if ck.stage_complete else 0)
            return kept, first, start
        raise RunDirectoryError(
            f"{rd.path}: no checkpoint passed verification (see log.txt); the run cannot be "
            f"resumed: rerun with --overwrite")

    def _extend_last_stage(self, progress: Progress) -> Progress:
        """After ``--extend``: record the new config and reopen the last stage."""
        last = len(self.cfg.stages) - 1
        atomic_write_text(self.rundir.config, resolved_yaml(self.cfg))
        self.rundir.log(f"--extend: last stage {self.cfg.stage_label(last)!r} now ends at "
                        f"step {int(self.offsets[-1])}")
        cks = [replace(c, stage_complete=False) if c.stage_index == last else c
               for c in progress.checkpoints]
        return Progress(cks, False)

    def _check_trajectory(self, ck: Checkpoint) -> None:
        fmt = self.cfg.output.trajectory.format
        if ck.frames > 0 and self.rundir.trajectory_left_out(fmt):
            self.rundir.log(f"{layout.trajectory_name(fmt)} was left out of a packed state: "
                            f"the run goes on without a trajectory (state.csv continues; "
                            f"frame analyses see the {ck.frames} frames digested before)")
        elif ck.frames > 0 and not self.rundir.trajectory(fmt).is_file():
            raise RunDirectoryError(
                f"{self.rundir.trajectory(fmt)} is missing but the checkpoint at step "
                f"{ck.global_step} counts {ck.frames} frames; resuming would mislabel the "
                f"frames' times: restore the file or rerun with --overwrite")

    def _load_checkpoint(self, ck: Checkpoint) -> StageStart | None:
        """Verified start data of a checkpoint (binary preferred), or None if unusable."""
        rd = self.rundir
        binary, why = rd.read_verified(ck.chk, ck.chk_size, ck.chk_sha256)
        if why:
            rd.log(f"checkpoint check: {why}")
        state = self.rundir.verified_state(ck)
        if state is None and binary is None:
            return None
        if binary is None:
            rd.log(f"binary checkpoint {ck.chk} not usable; using the portable State XML "
                   f"{ck.xml} (the random stream restarts)")
        elif state is None and not ck.stage_complete:
            rd.log(f"State XML {ck.xml} not usable; the verified binary checkpoint is used")
        elif state is None:  # a finished stage hands its State to the next: the XML is needed
            return None
        return StageStart(state, ck.has_velocities, ck, binary)

    # ----------------------------------------------------------- checkpoints
    def _write_checkpoint(self, sim: app.Simulation, index: int, stage_step: int,
                          complete: bool, progress: Progress, counts: tuple[int, int],
                          has_velocities: bool) -> Progress:
        state = sim.context.getState(getPositions=True, getVelocities=True, getEnergy=True,
                                     getParameters=True)
        pe = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        if not np.isfinite(pe):
            raise SimulationBlowUpError(
                f"stage {self.cfg.stage_label(index)!r}, step {sim.currentStep}: energy is not "
                f"finite; last good checkpoint kept"
            )
        gstep = int(sim.currentStep)
        files = self.rundir.write_checkpoint_files(
            gstep, sim.context.createCheckpoint(), openmm.XmlSerializer.serialize(state))
        ck = Checkpoint(
            stage_index=index, stage=self.cfg.stage_label(index), stage_step=stage_step,
            stage_complete=complete, global_step=gstep, time_ps=gstep * self.dt_ps,
            has_velocities=has_velocities, state_rows=counts[0], frames=counts[1],
            platform=self.platform.getName(), **files)
        for name, size, digest in ((ck.chk, ck.chk_size, ck.chk_sha256),
                                   (ck.xml, ck.xml_size, ck.xml_sha256)):
            if self.rundir.read_verified(name, size, digest)[0] is None:
                raise PredesolvRuntimeError(
                    f"stage {ck.stage!r}, step {gstep}: the checkpoint just written does not "
                    f"read back ({name}); check the file system, then --resume")
        keep = [ck] + [c for c in progress.checkpoints[:1] if c.global_step != gstep]
        done = complete and index == len(self.cfg.stages) - 1
        new = Progress(keep, done)
        self.rundir.write_progress(new)
        self.rundir.remove_stale_checkpoints(keep)
        return new

    # ----------------------------------------------------------- stages
    def _simulation(self, index: int, system: openmm.System) -> app.Simulation:
        integrator = make_integrator(self.cfg.simulation, index)
        simulation = app.Simulation(self.built.topology, system, integrator, self.platform,
                                    dict(self.properties))
        if self._properties_used is None:
            self._properties_used = record_platform_properties(
                self.rundir.provenance, simulation.context, self._resuming)
        return simulation

    def _stage_system(self, index: int) -> openmm.System:
        st = self.cfg.stages[index]
        kind = st.barostat_kind
        if kind is None or not isinstance(st, (NPTStage, ProductionStage)):
            return self.system
        system = copy.deepcopy(self.system)
        pressure = st.pressure or self.cfg.simulation.pressure
        system.addForce(_make_barostat(kind, pressure, self.cfg.simulation.temperature,
                                       st.frequency))
        return system

    def _set_start(self, sim: app.Simulation, state: openmm.State | None) -> None:
        if state is None:
            box = self.built.topology.getPeriodicBoxVectors()
            if box is not None:
                sim.context.setPeriodicBoxVectors(*box)
            sim.context.setPositions(self.built.positions)
        else:
            sim.context.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
            sim.context.setPositions(state.getPositions())

    def _minimize(self, i: int, state: openmm.State | None,
                  progress: Progress) -> tuple[openmm.State, Progress]:
        st = self.cfg.stages[i]
        assert isinstance(st, MinimizeStage)
        label = self.cfg.stage_label(i)
        sim = self._simulation(i, self.system)
        self._set_start(sim, state)
        sim.currentStep = int(self.offsets[i])
        try:
            self._run_minimizer(sim, st, label)
        except openmm.OpenMMException as exc:
            raise SimulationBlowUpError(
                f"stage {label!r}: the minimiser stopped ({str(exc).splitlines()[0]}); check "
                f"the input structure for overlapping atoms") from None
        pe = sim.context.getState(getEnergy=True).getPotentialEnergy()
        self.rundir.log(f"{label}: minimised, potential energy {pe}")
        if not np.isfinite(pe.value_in_unit(unit.kilojoule_per_mole)):
            raise SimulationBlowUpError(f"stage {label!r}: energy is not finite after "
                                        f"minimisation ({pe}); check the input structure")
        last = progress.latest
        counts = (last.state_rows, last.frames) if last else (0, 0)
        with self._io_errors(i, sim):
            progress = self._write_checkpoint(sim, i, 0, True, progress, counts, False)
        return sim.context.getState(getPositions=True, getVelocities=True), progress

    def _run_minimizer(self, sim: app.Simulation, st: MinimizeStage, label: str) -> None:
        if not is_pocl(sim.context):
            sim.minimizeEnergy(tolerance=st.tolerance, maxIterations=st.max_iterations)
            return
        # LocalEnergyMinimizer segfaults on pocl: minimise on a CPU context instead.
        cpu = openmm.Context(copy.deepcopy(self.system), openmm.VerletIntegrator(0.001),
                             openmm.Platform.getPlatformByName("CPU"))
        cpu.setPeriodicBoxVectors(*sim.context.getState().getPeriodicBoxVectors())
        cpu.setPositions(sim.context.getState(getPositions=True).getPositions())
        openmm.LocalEnergyMinimizer.minimize(cpu, st.tolerance, st.max_iterations)
        sim.context.setPositions(cpu.getState(getPositions=True).getPositions())
        self.rundir.log(f"{label}: minimised on CPU (pocl OpenCL device)")
        del cpu

    @contextmanager
    def _io_errors(self, i: int, sim: app.Simulation) -> Iterator[None]:
        """Turn an OS error (disk full, quota) in the body into a one-line runtime error."""
        try:
            yield
        except OSError as exc:
            hint = ("free space, then --resume" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                    else "fix the file system problem, then --resume")
            raise PredesolvRuntimeError(
                f"stage {self.cfg.stage_label(i)!r}, step {sim.currentStep}: cannot write "
                f"{getattr(exc, 'filename', None) or 'output'} ({exc.strerror or exc}); the "
                f"last good checkpoint is kept: {hint}") from None

    def _md(self, i: int, start: StageStart, progress: Progress) -> tuple[openmm.State, Progress]:
        label = self.cfg.stage_label(i)
        sim = self._simulation(i, self._stage_system(i))
        self._start_md(sim, i, start)
        with self._io_errors(i, sim):
            outputs = _StageOutputs(self, i, start, progress)
        outputs.attach(sim)
        try:
            progress = self._advance(i, sim, outputs, progress)
        finally:
            outputs.close()
        self.rundir.log(f"{label}: {self.cfg.stage_steps(i)} steps done "
                        f"(global step {int(self.offsets[i + 1])})")
        out = sim.context.getState(getPositions=True, getVelocities=True, getEnergy=True)
        return out, progress

    def _start_md(self, sim: app.Simulation, i: int, start: StageStart) -> None:
        """Positions, velocities and step count at the start (or resume point) of stage i."""
        ck = start.checkpoint
        if ck is not None and start.binary is not None:
            try:
                sim.context.loadCheckpoint(start.binary)
                return
            except openmm.OpenMMException as exc:
                if start.state is None:
                    raise RunDirectoryError(
                        f"{ck.chk} cannot be loaded on this platform ({exc}) and its State XML "
                        f"is damaged; resume on the platform that wrote it "
                        f"({ck.platform or 'unknown'}) or rerun with --overwrite") from None
                self.rundir.log(f"{ck.stage}: binary checkpoint not loadable here ({exc}); "
                                f"using the portable State XML (the random stream restarts)")
        self._set_start(sim, start.state)
        if ck is not None or start.has_velocities:
            assert start.state is not None
            sim.context.setVelocities(start.state.getVelocities())
            sim.currentStep = ck.global_step if ck is not None else int(self.offsets[i])
        else:
            sim.context.setVelocitiesToTemperature(
                self.cfg.simulation.temperature, stage_seed(int(self.cfg.simulation.seed or 0), i))
            sim.currentStep = int(self.offsets[i])
        sim.context.setTime(sim.currentStep * self.dt_ps)

    def _advance(self, i: int, sim: app.Simulation, outputs: _StageOutputs,
                 progress: Progress) -> Progress:
        """Step stage i to its end in blocks; checkpoint on schedule and on a signal."""
        label, last = self.cfg.stage_label(i), int(self.offsets[i + 1])
        ck_every = self.cfg.interval_steps("checkpoint")
        rate: float | None = None  # measured steps per second
        while sim.currentStep < last:
            now = int(sim.currentStep)
            bound = 10 if rate is None else max(1, int(rate * SIGNAL_LATENCY_S))
            chunk = min(min((now // ck_every + 1) * ck_every, last) - now, MAX_CHUNK_STEPS,
                        bound)
            t0 = time.perf_counter()
            try:
                with self._io_errors(i, sim):
                    sim.step(chunk)
            except openmm.OpenMMException as exc:
                raise SimulationBlowUpError(
                    f"stage {label!r}, near step {sim.currentStep}: OpenMM stopped "
                    f"({str(exc).splitlines()[0]}); last good checkpoint kept. Try a smaller "
                    f"time step or a longer minimisation/equilibration"
                ) from None
            rate = chunk / max(time.perf_counter() - t0, 1e-9)
            now = int(sim.currentStep)
            done, stop = now >= last, bool(self._flag is not None and self._flag.requested())
            if done or now % ck_every == 0 or stop:
                with self._io_errors(i, sim):
                    progress = self._write_checkpoint(sim, i, now - int(self.offsets[i]), done,
                                                      progress, outputs.counts(flush=True), True)
            if not done and stop:
                outputs.progress_bar.finish()
                raise self._interrupted(i, now)
        outputs.progress_bar.finish()
        return progress
