"""The protocol runner: stages in order, reporters, checkpoints, resume, failure handling.

:func:`run` takes a :class:`~predesolv.config.RunConfig` and a
:class:`~predesolv.built.BuiltSystem` and writes a run directory (layout in
:mod:`predesolv.rundir`). It never builds or analyses.

Resume semantics: every ``output.checkpoint_interval`` (and at the end of every stage) the
runner flushes ``state.csv`` and the trajectory, writes a binary checkpoint (which keeps the
Langevin random stream) plus a portable State XML, then atomically updates
``progress.json`` with the global step, the number of trajectory frames and ``state.csv``
rows at that instant. ``--resume`` cuts both files back to those counts and continues from
the checkpoint, so nothing is duplicated and at most one checkpoint interval is redone.
"""

from __future__ import annotations

import copy
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openmm
from openmm import app, unit

from predesolv import rundir
from predesolv.build import repartition_hydrogen_mass
from predesolv.built import BuiltSystem
from predesolv.config import RunConfig, resolved_yaml
from predesolv.config.simulation import MinimizeStage, NPTStage, ProductionStage
from predesolv.errors import (
    ConfigError,
    PredesolvRuntimeError,
    SimulationBlowUpError,
)
from predesolv.platforms import is_pocl, select_platform
from predesolv.reporters import (
    STATE_COLUMNS,
    ProgressReporter,
    StateCSVReporter,
    TrajectoryReporter,
)

#: Largest number of steps between two checks of the interrupt flag.
MAX_CHUNK_STEPS = 1000
BAROSTAT_TYPES = (
    openmm.MonteCarloBarostat,
    openmm.MonteCarloAnisotropicBarostat,
    openmm.MonteCarloMembraneBarostat,
    openmm.MonteCarloFlexibleBarostat,
)
_AXES = {"isotropic": "xyz", "anisotropic": "xyz", "x": "x", "y": "y", "z": "z", "xy": "xy"}


class Interrupted(PredesolvRuntimeError):
    """Ctrl-C: a checkpoint was written; resume with ``--resume``."""


@dataclass
class RunResult:
    """Summary of a finished (or resumed-and-finished) run."""

    run_dir: Path
    platform: str
    steps: int
    frames: int
    state_rows: int


def stage_barostat(stage: Any) -> str | None:
    """Barostat kind of a stage, or None for constant volume."""
    if isinstance(stage, NPTStage):
        return stage.barostat
    if isinstance(stage, ProductionStage) and stage.ensemble == "npt":
        return stage.barostat
    return None


def preflight(cfg: RunConfig, built: BuiltSystem) -> None:
    """Checks that need the built system (frozen atoms, geometry) — before anything is written.

    Raises
    ------
    ConfigError
        Isotropic NPT with frozen particles; a barostat scaling an axis the builder marked as
        fixed (``metadata.geometry.fixed_axes``); any barostat when the system needs a fixed
        box (``metadata.requires.fixed_box``, e.g. constant potential).
    """
    frozen = built.frozen_indices()
    fixed_axes = set(built.metadata.fixed_axes())
    fixed_box = built.metadata.requires.fixed_box
    for i, st in enumerate(cfg.stages):
        kind = stage_barostat(st)
        if kind is None:
            continue
        field = f"stages[{i}].barostat"
        if fixed_box:
            raise ConfigError(
                f"{kind!r}: this system needs a fixed box (metadata requires.fixed_box); use "
                f"nvt stages only", field,
            )
        if kind == "isotropic" and frozen:
            raise ConfigError(
                f"'isotropic' rescales the {len(frozen)} frozen (mass 0) particles and so the "
                f"electrode geometry; use an axis-limited barostat (x, y, z, xy, anisotropic) "
                f"or nvt", field,
            )
        bad = fixed_axes & set(_AXES[kind])
        if bad:
            raise ConfigError(
                f"{kind!r} would scale axis {''.join(sorted(bad))}, which this system keeps "
                f"fixed (metadata geometry.fixed_axes = {sorted(fixed_axes)}); use a barostat "
                f"along the other axes or nvt", field,
            )


def _make_barostat(kind: str, pressure: Any, temperature: Any, frequency: int) -> openmm.Force:
    if kind == "isotropic":
        return openmm.MonteCarloBarostat(pressure, temperature, frequency)
    axes = _AXES[kind]
    p = pressure.value_in_unit(unit.bar)
    return openmm.MonteCarloAnisotropicBarostat(
        openmm.Vec3(p, p, p) * unit.bar, temperature, "x" in axes, "y" in axes, "z" in axes,
        frequency,
    )


def _stage_seed(seed: int, index: int) -> int:
    # OpenMM treats seed 0 as "pick one at random": keep every derived seed non-zero.
    return (seed + 7919 * (index + 1)) % (2**31 - 2) + 1


class _InterruptFlag:
    """SIGINT/SIGTERM handler: the first asks for a checkpoint and a clean stop (batch
    schedulers send SIGTERM before killing a job); a second Ctrl-C aborts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.set = False
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _InterruptFlag:
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


class Runner:
    """Run the stages of ``cfg`` on ``built`` into ``run_dir``.

    Parameters
    ----------
    cfg : RunConfig
        Resolved config (seeds drawn).
    built : BuiltSystem
        The system; it is not modified (HMR is applied to a copy).
    run_dir : path
    platform : str, optional
        Overrides ``simulation.platform`` (CLI ``--platform``).
    system_is_final : bool
        The System already went through this runner's preparation (it is the run
        directory's ``system.xml``): do not repartition hydrogen masses again.
    """

    def __init__(self, cfg: RunConfig, built: BuiltSystem, run_dir: str | Path,
                 platform: str | None = None, system_is_final: bool = False):
        self.cfg = cfg
        self.built = built
        self.run_dir = Path(run_dir)
        sim = cfg.simulation
        self.platform, self.properties = select_platform(
            platform or sim.platform, sim.precision, sim.device_index, sim.cpu_threads
        )
        self.dt = sim.timestep
        self.dt_ps = self.dt.value_in_unit(unit.picosecond)
        self.offsets = np.cumsum([0] + [cfg.stage_steps(i) for i in range(len(cfg.stages))])
        self.system = self._base_system(apply_hmr=not system_is_final)
        self._flag: _InterruptFlag | None = None

    # ----------------------------------------------------------------- setup
    def _base_system(self, apply_hmr: bool) -> openmm.System:
        system = copy.deepcopy(self.built.system)
        for idx in reversed(range(system.getNumForces())):
            if isinstance(system.getForce(idx), BAROSTAT_TYPES):
                system.removeForce(idx)
                sys.stderr.write("note: removed a barostat from the input System; the stages "
                                 "decide the ensemble\n")
        hm = self.cfg.simulation.hydrogen_mass
        if hm is not None and apply_hmr:
            repartition_hydrogen_mass(system, self.built.topology, hm)
        return system

    def write_inputs(self, overwrite: bool) -> None:
        """Create the run directory and write config, provenance, system, topology, metadata."""
        rundir.prepare_new(self.run_dir, overwrite)
        d = self.run_dir
        rundir.write_system_files(d, resolved_yaml(self.cfg), self.system, self.built.topology,
                                  self.built.positions, self.built.metadata)
        rundir.atomic_write_json(d / rundir.FILES["provenance"], rundir.provenance({
            "platform": self.platform.getName(),
            "platform_properties": self.properties,
            "simulation_seed": self.cfg.simulation.seed,
            "system_seed": self.cfg.system.seed,
            "n_atoms": self.system.getNumParticles(),
            "n_frozen": len(self.built.frozen_indices()),
        }))
        (d / rundir.FILES["state"]).write_text(",".join(f'"{c}"' for c in STATE_COLUMNS) + "\n")
        rundir.log(d, f"run created on platform {self.platform.getName()} {self.properties}")

    def _simulation(self, index: int, system: openmm.System) -> app.Simulation:
        sim = self.cfg.simulation
        integrator = openmm.LangevinMiddleIntegrator(sim.temperature, sim.friction, self.dt)
        integrator.setRandomNumberSeed(_stage_seed(sim.seed, index))
        return app.Simulation(self.built.topology, system, integrator, self.platform,
                              dict(self.properties))

    def _stage_system(self, index: int) -> openmm.System:
        st = self.cfg.stages[index]
        kind = stage_barostat(st)
        if kind is None:
            return self.system
        system = copy.deepcopy(self.system)
        pressure = st.pressure or self.cfg.simulation.pressure
        system.addForce(_make_barostat(kind, pressure, self.cfg.simulation.temperature,
                                       st.frequency))
        return system

    # ----------------------------------------------------------- checkpoints
    def _write_checkpoint(self, sim: app.Simulation, index: int, stage_step: int,
                          complete: bool, reporters: list[Any], has_velocities: bool,
                          progress: dict[str, Any]) -> dict[str, Any]:
        for r in reporters:
            if hasattr(r, "flush"):
                r.flush()
        state = sim.context.getState(getPositions=True, getVelocities=True, getEnergy=True,
                                     getParameters=True)
        pe = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        if not np.isfinite(pe):
            raise SimulationBlowUpError(
                f"stage {self.cfg.stage_label(index)!r}, step {sim.currentStep}: energy is not "
                f"finite; last good checkpoint kept"
            )
        d = self.run_dir
        ckdir = d / "checkpoints"
        ckdir.mkdir(exist_ok=True)
        gstep = int(sim.currentStep)
        chk_name = f"checkpoints/step{gstep:012d}.chk"
        xml_name = f"checkpoints/step{gstep:012d}.xml"
        rundir.atomic_write_bytes(d / chk_name, sim.context.createCheckpoint())
        rundir.atomic_write_text(d / xml_name, openmm.XmlSerializer.serialize(state))
        old = [progress.get("checkpoint"), progress.get("checkpoint_xml")]
        progress = dict(progress)
        progress.update({
            "stage_index": index,
            "stage": self.cfg.stage_label(index),
            "stage_step": stage_step,
            "stage_complete": complete,
            "global_step": gstep,
            "time_ps": gstep * self.dt_ps,
            "has_velocities": has_velocities,
            "checkpoint": chk_name,
            "checkpoint_xml": xml_name,
            "platform": self.platform.getName(),
            "completed": complete and index == len(self.cfg.stages) - 1,
        })
        for r in reporters:
            if isinstance(r, StateCSVReporter):
                progress["state_rows"] = progress.get("state_rows_base", 0) + r.rows_written
            if isinstance(r, TrajectoryReporter):
                progress["frames"] = progress.get("frames_base", 0) + r.frames_written
        rundir.atomic_write_json(d / rundir.FILES["progress"], progress)
        for name in old:
            if name and name not in (chk_name, xml_name) and (d / name).exists():
                (d / name).unlink()
        return progress

    # ------------------------------------------------------------------ run
    def run(self, resume: bool = False, overwrite: bool = False) -> RunResult:
        """Run every stage (or the remaining ones with ``resume``).

        Raises
        ------
        SimulationBlowUpError
            Non-finite energy or coordinates (stage and step named).
        Interrupted
            Ctrl-C; a checkpoint was written first.
        """
        d = self.run_dir
        progress: dict[str, Any] = {"state_rows": 0, "frames": 0}
        if resume and not (d / rundir.FILES["progress"]).is_file():
            # Stopped before the first checkpoint: start over from the stored inputs.
            rundir.truncate_state_csv(d / rundir.FILES["state"], 0)
            rundir.log(d, "resuming before the first checkpoint: starting from stage 0")
            resume = False
        elif resume:
            progress = rundir.read_json(d / rundir.FILES["progress"])
            if progress.get("completed"):
                return self._result(progress)
            rundir.truncate_state_csv(d / rundir.FILES["state"], progress.get("state_rows", 0))
            rundir.log(d, f"resuming at stage {progress['stage']} step {progress['global_step']}")
        else:
            self.write_inputs(overwrite)
        start = 0
        state: openmm.State | None = None
        has_vel = False
        if resume:
            start = progress["stage_index"] + (1 if progress["stage_complete"] else 0)
            state = openmm.XmlSerializer.deserialize(
                (d / progress["checkpoint_xml"]).read_text())
            has_vel = bool(progress.get("has_velocities"))
        with _InterruptFlag() as flag:
            self._flag = flag
            for i in range(start, len(self.cfg.stages)):
                mid = resume and i == progress["stage_index"] and not progress["stage_complete"]
                if isinstance(self.cfg.stages[i], MinimizeStage):
                    state, progress = self._minimize(i, state, progress)
                    has_vel = False
                else:
                    state, progress = self._md(i, state, has_vel, progress, resume_mid=mid)
                    has_vel = True
        final = d / rundir.FILES["final_state"]
        rundir.atomic_write_text(final, openmm.XmlSerializer.serialize(state))
        rundir.log(d, "run complete")
        return self._result(progress)

    def _result(self, progress: dict[str, Any]) -> RunResult:
        return RunResult(self.run_dir, self.platform.getName(), int(progress["global_step"]),
                         int(progress.get("frames", 0)), int(progress.get("state_rows", 0)))

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
                  progress: dict[str, Any]) -> tuple[openmm.State, dict[str, Any]]:
        st = self.cfg.stages[i]
        label = self.cfg.stage_label(i)
        sim = self._simulation(i, self.system)
        self._set_start(sim, state)
        sim.currentStep = int(self.offsets[i])
        if is_pocl(sim.context):
            # LocalEnergyMinimizer segfaults on pocl: minimise on a CPU context instead.
            cpu = openmm.Context(copy.deepcopy(self.system), openmm.VerletIntegrator(0.001),
                                 openmm.Platform.getPlatformByName("CPU"))
            cpu.setPeriodicBoxVectors(*sim.context.getState().getPeriodicBoxVectors())
            cpu.setPositions(sim.context.getState(getPositions=True).getPositions())
            openmm.LocalEnergyMinimizer.minimize(cpu, st.tolerance, st.max_iterations)
            sim.context.setPositions(cpu.getState(getPositions=True).getPositions())
            rundir.log(self.run_dir, f"{label}: minimised on CPU (pocl OpenCL device)")
            del cpu
        else:
            sim.minimizeEnergy(tolerance=st.tolerance, maxIterations=st.max_iterations)
        pe = sim.context.getState(getEnergy=True).getPotentialEnergy()
        rundir.log(self.run_dir, f"{label}: minimised, potential energy {pe}")
        if not np.isfinite(pe.value_in_unit(unit.kilojoule_per_mole)):
            raise SimulationBlowUpError(f"stage {label!r}: energy is not finite after "
                                        f"minimisation ({pe}); check the input structure")
        progress = self._write_checkpoint(sim, i, 0, True, [], False, progress)
        return sim.context.getState(getPositions=True, getVelocities=True), progress

    def _md(self, i: int, state: openmm.State | None, has_vel: bool, progress: dict[str, Any],
            resume_mid: bool) -> tuple[openmm.State, dict[str, Any]]:
        cfg, d = self.cfg, self.run_dir
        label = cfg.stage_label(i)
        n_steps = cfg.stage_steps(i)
        first, last = int(self.offsets[i]), int(self.offsets[i + 1])
        sim = self._simulation(i, self._stage_system(i))
        loaded = False
        if resume_mid:
            chk = d / progress["checkpoint"]
            try:
                sim.context.loadCheckpoint(chk.read_bytes())
                loaded = True
            except (openmm.OpenMMException, OSError) as exc:
                rundir.log(d, f"{label}: binary checkpoint not loadable here ({exc}); using the "
                              f"portable State XML (the random stream restarts)")
        if not loaded:
            self._set_start(sim, state)
            if resume_mid:
                sim.context.setVelocities(state.getVelocities())
                sim.currentStep = int(progress["global_step"])
            elif has_vel:
                sim.context.setVelocities(state.getVelocities())
                sim.currentStep = first
            else:
                sim.context.setVelocitiesToTemperature(
                    cfg.simulation.temperature, _stage_seed(cfg.simulation.seed, i))
                sim.currentStep = first
            sim.context.setTime(sim.currentStep * self.dt_ps)
        # Files: state.csv always; trajectory in production only.
        progress = dict(progress)
        progress["state_rows_base"] = progress.get("state_rows", 0)
        progress["frames_base"] = progress.get("frames", 0)
        csv = open(d / rundir.FILES["state"], "a")  # noqa: SIM115 - closed in finally
        reporters: list[Any] = []
        traj = None
        try:
            reporters.append(
                StateCSVReporter(csv, cfg.interval_steps("state"), label, sim.system))
            if isinstance(cfg.stages[i], ProductionStage):
                fmt = cfg.output.trajectory.format
                path = d / f"trajectory.{fmt}"
                ti = cfg.interval_steps("trajectory")
                append = resume_mid and path.exists() and progress["frames_base"] > 0
                if append:
                    (rundir.truncate_dcd if fmt == "dcd" else rundir.truncate_xtc)(
                        path, progress["frames_base"])
                else:
                    progress["frames_base"] = 0
                traj = TrajectoryReporter(str(path), ti, self.built.topology, self.dt,
                                          (first // ti + 1) * ti, fmt, append)
                reporters.append(traj)
            show = {"on": True, "off": False}.get(cfg.output.progress, sys.stderr.isatty())
            prog = ProgressReporter(label, first, last, self.dt_ps,
                                    max(1, min(cfg.interval_steps("state"), n_steps // 100 or 1)),
                                    show)
            reporters.append(prog)
            sim.reporters.extend(reporters)
            ck = cfg.interval_steps("checkpoint")
            while sim.currentStep < last:
                now = int(sim.currentStep)
                next_ck = min((now // ck + 1) * ck, last)
                chunk = min(next_ck - now, MAX_CHUNK_STEPS)
                try:
                    sim.step(chunk)
                except openmm.OpenMMException as exc:
                    raise SimulationBlowUpError(
                        f"stage {label!r}, near step {sim.currentStep}: OpenMM stopped "
                        f"({str(exc).splitlines()[0]}); last good checkpoint kept. Try a smaller "
                        f"time step or a longer minimisation/equilibration"
                    ) from None
                now = int(sim.currentStep)
                done = now >= last
                if done or now % ck == 0 or (self._flag is not None and self._flag.set):
                    progress = self._write_checkpoint(sim, i, now - first, done, reporters,
                                                      True, progress)
                if not done and self._flag is not None and self._flag.set:
                    prog.finish()
                    rundir.log(d, f"interrupted at stage {label} step {now}; checkpoint written")
                    raise Interrupted(
                        f"interrupted at stage {label!r}, step {now}; checkpoint written. "
                        f"Continue with: predesolv run CONFIG --resume"
                    )
            prog.finish()
        finally:
            csv.close()
            if traj is not None:
                traj.close()
        rundir.log(d, f"{label}: {n_steps} steps done (global step {last})")
        out = sim.context.getState(getPositions=True, getVelocities=True, getEnergy=True)
        return out, progress


def run(cfg: RunConfig, built: BuiltSystem, run_dir: str | Path | None = None, *,
        resume: bool = False, overwrite: bool = False, platform: str | None = None) -> RunResult:
    """Run ``cfg`` on ``built``; see :class:`Runner`. ``run_dir`` defaults to
    ``cfg.output.directory``."""
    preflight(cfg, built)
    runner = Runner(cfg, built, run_dir or cfg.output.directory, platform=platform,
                    system_is_final=resume)
    return runner.run(resume=resume, overwrite=overwrite)
