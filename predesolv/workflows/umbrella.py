"""``predesolv pmf``: start run → steered pull → umbrella windows (Dask) → MBAR.

:func:`run_pmf` is the Python API of the verb. Each step writes ordinary run directories
(:mod:`predesolv.workflows.protocol`), so a second call resumes whatever is unfinished and
skips what is complete; :func:`estimate` reads the windows' ``state.csv`` CV columns and
their ``config.yaml`` biases and hands them to :func:`predesolv.analysis.pmf.estimate_pmf`.
"""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openmm import unit

from predesolv.analysis.pmf import UmbrellaWindow, estimate_pmf
from predesolv.analysis.pmf_outputs import write_outputs
from predesolv.analysis.rdf import default_r0_nm
from predesolv.atomic import atomic_write_text
from predesolv.builder import build_system
from predesolv.built import BuiltSystem
from predesolv.config import RunConfig
from predesolv.config.freeenergy import CoordinationCVSpec
from predesolv.errors import ConfigError, Interrupted, RunDirectoryError
from predesolv.freeenergy.bias import resolve_cv
from predesolv.rundir import RunDir
from predesolv.runner import Runner, preflight
from predesolv.workflows.distributed import Task, run_tasks

from .extension import describe, short_windows
from .pmfdir import PULL_CSV, PMFDir, window_label
from .protocol import (
    PULL,
    PULL_STAGE,
    START,
    WINDOWS,
    WindowPlan,
    check_windows,
    fmt_value,
    plan_windows,
    pull_config,
    replica_config,
    seed_frames,
    start_config,
    window_config,
)
from .sanity import check_pmf_sanity
from .umbrella2d import (
    check_second_cv,
    estimate_2d,
    same_second_term,
    seed_frames_2d,
)
from .wallcheck import checked_production, inside_walls, wall_allowances

log = logging.getLogger("predesolv.pmf")


@dataclass
class PMFRunResult:
    """What :func:`run_pmf` made: the PMF folder, the window folders and the output files."""

    root: Path
    windows: list[Path]
    files: dict[str, Path]
    result: Any


def _say(text: str) -> None:
    log.info(text)
    sys.stderr.write(f"predesolv pmf: {text}\n")


def _run_stage_dir(cfg: RunConfig, built: BuiltSystem, platform: str | None) -> RunDir:
    """Run (or resume, or skip when complete) one ordinary run directory in-process."""

    rd = RunDir(cfg.output.directory)
    with rd.locked():
        if rd.has_inputs():
            Runner.resume(rd, platform=platform).run()
        else:
            preflight(cfg, built)
            Runner(cfg, built, rd, platform=platform).run(overwrite=True)
    return rd


def _final_positions(rd: RunDir, built: BuiltSystem) -> BuiltSystem:
    import openmm

    state = openmm.XmlSerializer.deserialize(rd.final_state.read_text())
    return BuiltSystem(built.system, built.topology, state.getPositions(asNumpy=True),
                       built.metadata)


def _pull_start_value(cfg: RunConfig, start: BuiltSystem) -> float:
    """The pull CV at the start structure (CV unit)."""
    assert cfg.pull is not None
    cv = resolve_cv(cfg.pull.cv, start, "pull.cv").cv
    pos = np.asarray(start.positions.value_in_unit(unit.nanometer))
    box = start.topology.getPeriodicBoxVectors()
    box_nm = None if box is None else np.diag(np.asarray(box.value_in_unit(unit.nanometer)))
    return float(cv.from_positions(pos, box_nm))


def _pull(cfg: RunConfig, root: Path, start: BuiltSystem, platform: str | None,
          n_windows: int) -> RunDir:
    assert cfg.pull is not None
    s0 = _pull_start_value(cfg, start)
    pcfg = pull_config(cfg, root, s0, n_windows)
    _say(f"pull: {cfg.pull.cv.type} CV from {s0:.4g} to {cfg.pull.target} at {cfg.pull.speed}")
    rd = _run_stage_dir(pcfg, start, platform)
    write_pull_csv(rd, cfg.pull.cv.column)
    return rd


def write_pull_csv(rd: RunDir, column: str) -> Path:
    """``pull.csv`` (time, CV, centre, accumulated work) from the pull's ``state.csv``."""
    df = pd.read_csv(rd.state)
    df = df[df["stage"] == PULL_STAGE]
    cv_col = next(c for c in df.columns if c.startswith("cv ("))
    center_col = next(c for c in df.columns if c.startswith("bias_center ("))
    out = pd.DataFrame({"time_ps": df["time (ps)"], "step": df["step"], column: df[cv_col],
                        f"center_{column}" if column != "cn" else "center_cn": df[center_col],
                        "work_kJ_per_mol": df["pull_work (kJ/mol)"]})
    path = rd.path.parent / PULL_CSV
    atomic_write_text(path, out.to_csv(index=False, float_format="%.10g"))
    return path


def _seeds(cfg: RunConfig, start: BuiltSystem, pull_dir: RunDir | None,
           plans: list[WindowPlan]) -> list[Any]:
    """Start positions of every window: the pull frame nearest each centre among the frames
    inside every ``pmf.walls`` wall (or, when none is, within the excursion the wall check
    allows: :mod:`.wallcheck`), or the start structure.

    Raises
    ------
    ConfigError
        No pull frame within the walls' allowance, before any window is written.
    """


    assert cfg.pmf is not None
    cv = resolve_cv(cfg.pmf.cv, start, "pmf.cv").cv
    walls = [resolve_cv(w.cv, start, f"pmf.walls[{i}].cv").cv
             for i, w in enumerate(cfg.pmf.walls)]
    frames, boxes = _seed_candidates(start, pull_dir)
    values = np.array([cv.from_positions(f, b) for f, b in zip(frames, boxes, strict=True)])
    wall_values = np.array([[w.from_positions(f, b) for w in walls]
                            for f, b in zip(frames, boxes, strict=True)]).reshape(len(frames),
                                                                                  len(walls))
    bounds = [w.bounds() for w in cfg.pmf.walls]
    inside = inside_walls(wall_values, bounds)
    if not inside.any():  # then frames within the thermal excursion the wall check allows
        inside = inside_walls(wall_values, bounds, wall_allowances(
            cfg.pmf.walls, cfg.simulation.temperature.value_in_unit(unit.kelvin)))
        if not inside.any() and pull_dir is not None:
            raise ConfigError(_outside_walls_message(cfg, wall_values, True), "pmf.walls")
        _say("warning: " + _outside_walls_message(cfg, wall_values, pull_dir is not None,
                                                  strict=False))
        if not inside.any():  # the start structure is the only candidate
            inside[:] = True
    if cfg.pmf.cv2 is not None:  # nearest in thermal widths of both CVs
        cv2 = resolve_cv(cfg.pmf.cv2.cv, start, "pmf.cv2.cv").cv
        both = np.column_stack([values, [cv2.from_positions(f, b)
                                         for f, b in zip(frames, boxes, strict=True)]])
        picks = seed_frames_2d(both, inside, plans,
                               cfg.simulation.temperature.value_in_unit(unit.kelvin))
    else:
        picks = seed_frames(values, inside, [p.center for p in plans])
    for p, f in zip(plans, picks, strict=True):
        if pull_dir is not None and abs(values[f] - p.center) > 0.5 * _spacing(plans):
            _say(f"warning: window {p.name} (centre {p.center:.4g}) starts from a pull frame "
                 f"at {values[f]:.4g}, the nearest inside pmf.walls; the pull did not pass "
                 f"this centre inside the walls (extend pull.target)")
    return [frames[f] * unit.nanometer for f in picks]


def _seed_candidates(start: BuiltSystem, pull_dir: RunDir | None
                     ) -> tuple[list[np.ndarray], list[np.ndarray | None]]:
    """Candidate start frames (nm, (N, 3) each) and their box lengths (nm, (3,) or None):
    every pull frame, or the start structure alone."""
    if pull_dir is None:
        box = start.topology.getPeriodicBoxVectors()
        box_nm = None if box is None else np.diag(np.asarray(box.value_in_unit(unit.nanometer)))
        return [np.asarray(start.positions.value_in_unit(unit.nanometer))], [box_nm]
    import MDAnalysis as mda

    if pull_dir.trajectory_left_out("dcd"):
        raise RunDirectoryError(f"{pull_dir.path}: the pull's frames were left out of the "
                                f"packed state (every window was seeded then); a window not "
                                f"written since needs them: go on in the original folder")
    u = mda.Universe(str(pull_dir.topology), str(pull_dir.trajectory("dcd")))
    frames: list[np.ndarray] = []
    boxes: list[np.ndarray | None] = []
    for ts in u.trajectory:
        frames.append(ts.positions / 10.0)
        boxes.append(np.asarray(ts.dimensions[:3], dtype=float) / 10.0)
    return frames, boxes


def _outside_walls_message(cfg: RunConfig, wall_values: np.ndarray, pulled: bool,
                           strict: bool = True) -> str:
    assert cfg.pmf is not None
    parts = []
    for i, w in enumerate(cfg.pmf.walls):
        lo, hi = w.bounds()
        v = wall_values[:, i]
        allowed = f"{'-inf' if lo is None else f'{lo:.4g}'}..{'inf' if hi is None else f'{hi:.4g}'}"
        parts.append(f"pmf.walls[{i}] ({w.cv.type}, allowed {allowed} {w.cv.unit}) spans "
                     f"{v.min():.4g}..{v.max():.4g}")
    where = ("no frame of the pull lies inside every wall" if pulled
             else "the start structure lies outside the walls")
    if not strict:
        return (f"{where}: {'; '.join(parts)}; windows start outside and rely on their first "
                f"stages to bring the group in (a window whose production samples stay "
                f"outside is refused by name before the estimate)")
    return (f"{where}, nor within the thermal excursion the wall check allows: "
            f"{'; '.join(parts)}. A window started outside its walls does not sample the "
            f"ensemble the walls define; end the pull inside the walls (pull.target, or a "
            f"pull wall)")


def _spacing(plans: list[WindowPlan]) -> float:
    c = np.sort([p.center for p in plans])
    return float(np.min(np.diff(c))) if len(c) > 1 else float("inf")


def _make_windows(root: Path, start: BuiltSystem, seeds: list[Any], plans: list[WindowPlan],
                  configs: list[RunConfig]) -> list[RunDir]:
    """Write every window's inputs (no MD) from its config (``window_config``); keep windows
    that already exist when their bias is the one asked for."""

    dirs = []
    for p, pos, wcfg in zip(plans, seeds, configs, strict=True):
        rd = RunDir(wcfg.output.directory)
        if rd.has_inputs():
            old = rd.load_config().bias
            assert wcfg.bias is not None
            if old is None or abs(old.center_value - p.center) > 1e-9 or \
                    abs(old.k_value - p.k) > 1e-9 * p.k or not same_second_term(old, p):
                raise RunDirectoryError(
                    f"{rd.path} holds a window with another bias; use another "
                    f"output.directory (or remove {root / WINDOWS}) to change the windows")
        else:
            built = BuiltSystem(start.system, start.topology, pos, start.metadata)
            preflight(wcfg, built)
            with rd.locked():
                Runner(wcfg, built, rd).write_inputs(overwrite=True)
        dirs.append(rd)
    return dirs


def run_window(path: str, platform: str | None, device_index: str | None = None,
               extend_to: RunConfig | None = None) -> str:
    """Dask task: run or resume one window directory to completion (module level, so it
    pickles). ``extend_to``: the window's config with a longer last stage (``pmf
    --extend``); the window resumes from its last checkpoint and runs the extra steps.
    Returns the path."""
    Runner.resume(path, platform=platform, device_index=device_index, config=extend_to,
                  extend=extend_to is not None).run()
    return path


def run_pmf(cfg: RunConfig, out: str | Path | None = None, *, serial: bool = False,
            platform: str | None = None, overwrite: bool = False,
            extend: bool = False, only_short: bool = False,
            continue_from: str | Path | None = None) -> PMFRunResult:
    """Everything ``predesolv pmf`` does: start run, pull, windows, MBAR estimate, holding
    the PMF folder's lock throughout (:class:`~.pmfdir.PMFDir`).

    Parameters
    ----------
    overwrite : bool
        Replace a PMF folder made with other physics (default: refuse it).
    extend : bool
        Allow a longer last window stage than the folder's windows ran (only that change):
        finished windows resume from their last checkpoint and run the extra steps; the
        extension is recorded in ``pmf.json``.
    only_short : bool
        With ``extend``: extend only the finished windows below the estimator's sample gate
        (:mod:`.extension`); the manifest records which.
    continue_from : path, optional
        A state saved by :meth:`~.pmfdir.PMFDir.save_state` (here or on another machine):
        unpacked into the empty (or absent) output folder, then the PMF goes on there.

    Raises
    ------
    ConfigError
        No ``pmf`` block; windows outside the box; a CV on frozen atoms; bad groups; a folder
        holding a PMF with other physics (before any MD).
    Interrupted
        Ctrl-C/SIGTERM in a window (checkpoint written): rerun the same command.
    """

    if cfg.pmf is None:
        raise ConfigError("pmf: the config has no 'pmf' block (CV, windows, k, stages); see "
                          "docs/free_energy.md", "pmf")
    if only_short and not extend:
        raise ConfigError("--only-short goes with --extend (and a longer last window stage "
                          "in the config)", "--only-short")
    if continue_from is not None and overwrite:
        raise ConfigError("--continue and --overwrite: a continued PMF keeps what the saved "
                          "state holds; give one of them", "--continue")
    root = Path(out or cfg.output.directory).absolute()
    plans = plan_windows(cfg)
    built = build_system(cfg.system)
    check_pmf(cfg, built)
    pdir = PMFDir(root)
    if continue_from is not None:
        pdir.unpack(continue_from)
    with pdir.locked():
        note = pdir.claim(cfg, overwrite, extend, only_short)
        if note:
            _say(f"warning: {note}")
        _say(f"{len(plans)} windows; folder {root}")
        try:
            return _run_pmf_locked(cfg, root, plans, built, serial, platform, only_short)
        except Interrupted as exc:  # the runner's advice is for `run`; a PMF goes on by `pmf`
            raise Interrupted(f"pmf stopped ({exc.what})",
                              "Continue with the same command: predesolv pmf CONFIG (finished "
                              "windows are kept, the interrupted one resumes from its "
                              "checkpoint)") from None


@dataclass
class _PullEnd:
    """Where replica 0's pull began (CV value) and ended (structure), and its r0: the
    start of an outward replica (``pmf.replica_pulls: alternate``)."""

    start_value: float
    final: BuiltSystem
    r0_nm: float | None


def _run_pmf_locked(cfg: RunConfig, root: Path, plans: list[WindowPlan], built: BuiltSystem,
                    serial: bool, platform: str | None, only_short: bool = False
                    ) -> PMFRunResult:
    """Every replica's start run, pull and window inputs, then all windows, then MBAR."""
    assert cfg.pmf is not None
    if cfg.pmf.seed_from == "pull" and cfg.pull is None:
        raise ConfigError("pmf.seed_from: 'pull' needs a pull block", "pmf.seed_from")
    pdir = PMFDir(root)
    dirs: list[RunDir] = []
    wanted: list[RunConfig] = []
    first: _PullEnd | None = None
    for r in range(cfg.pmf.replicas):
        outward = r % 2 == 1 and cfg.pmf.replica_pulls == "alternate"
        if cfg.pmf.replicas > 1:
            _say(f"replica {r + 1} of {cfg.pmf.replicas}: "
                 + ("pull outwards from the end of replica 1's pull" if outward
                    else "start run and pull"))
        d, w, end = _prepare_replica(replica_config(cfg, r), pdir.replica(r).root, plans,
                                     built, platform, first if outward else None)
        first = end if r == 0 else first
        dirs += d
        wanted += w
    if only_short:
        wanted = _only_short(cfg, pdir, dirs, wanted)
    _run_windows(cfg, dirs, serial, platform, wanted)
    result, files = estimate(root, cfg)
    return PMFRunResult(root, [d.path for d in dirs], files, result)


def _prepare_replica(cfg: RunConfig, root: Path, plans: list[WindowPlan], built: BuiltSystem,
                     platform: str | None, outward_from: _PullEnd | None = None
                     ) -> tuple[list[RunDir], list[RunConfig], _PullEnd | None]:
    """One replica's start run and pull (run here), its windows' inputs (written, not run)
    with the configs they should end with, and where its pull began and ended. With
    ``outward_from`` the replica has no start run: it pulls from the end of that pull back
    to where it began."""
    assert cfg.pmf is not None
    use_pull = cfg.pull is not None and cfg.pmf.seed_from in ("auto", "pull")
    if outward_from is not None and cfg.pull is not None and use_pull:
        start, r0 = outward_from.final, outward_from.r0_nm
        pull = cfg.pull
        cfg = cfg.model_copy(deep=True)
        cfg.pull = type(pull).model_validate({
            **pull.model_dump(mode="json"),
            "target": fmt_value(outward_from.start_value, pull.cv.unit)})
    else:
        start_dir = _run_stage_dir(start_config(cfg, root), built, platform)
        start = _final_positions(start_dir, built)
        r0 = _coordination_r0(cfg, start_dir, start)
    pull_dir = _pull(cfg, root, start, platform, len(plans)) if use_pull else None
    end = None if pull_dir is None else _PullEnd(_pull_start_value(cfg, start),
                                                 _final_positions(pull_dir, built), r0)
    wanted = [window_config(cfg, root, p, r0) for p in plans]
    seeded = all(RunDir(w.output.directory).has_inputs() for w in wanted)  # the pull's frames
    seeds = [None] * len(plans) if seeded else _seeds(cfg, start, pull_dir, plans)  # not read
    return _make_windows(root, start, seeds, plans, wanted), wanted, end


def check_pmf(cfg: RunConfig, built: BuiltSystem) -> None:
    """The checks of a ``pmf``/``pull`` config that need the built system, before anything
    is written: windows inside the box and the slit, every CV resolvable and on mobile atoms,
    force constants the time step can integrate, windows that can be told apart, a pull target
    the CV can reach (:mod:`.sanity`).

    Raises
    ------
    ConfigError
    """

    check_windows(cfg, built, plan_windows(cfg))
    if cfg.pmf is not None and cfg.pmf.cv2 is not None:
        check_second_cv(cfg)
    _check_cvs(cfg, built)
    check_pmf_sanity(cfg, built)


def _check_cvs(cfg: RunConfig, built: BuiltSystem) -> None:
    """Resolve every CV once before anything is written (bad groups, frozen atoms)."""

    assert cfg.pmf is not None
    specs = [("pmf.cv", cfg.pmf.cv)] + [(f"pmf.walls[{i}].cv", w.cv)
                                        for i, w in enumerate(cfg.pmf.walls)]
    if cfg.pmf.cv2 is not None:
        specs.append(("pmf.cv2.cv", cfg.pmf.cv2.cv))
    if cfg.pull is not None:
        specs += [("pull.cv", cfg.pull.cv)] + [(f"pull.walls[{i}].cv", w.cv)
                                               for i, w in enumerate(cfg.pull.walls)]
    box = built.topology.getPeriodicBoxVectors()
    half = None if box is None else 0.5 * min(box[i][i].value_in_unit(unit.nanometer)
                                              for i in range(3))
    for field, spec in specs:
        fake_r0 = {k: 0.3 for k in ("DME", "EC", "DMC", "EMC", "PC", "PF6", "ClO4", "anion",
                                    "solvent")}
        rc = resolve_cv(spec, built, field,
                        fake_r0 if isinstance(spec, CoordinationCVSpec) else None)
        d_max = getattr(rc.cv, "d_max", None)
        if (half is not None and isinstance(spec, CoordinationCVSpec) and spec.r0 is not None
                and d_max is not None and not d_max < half):
            raise ConfigError(
                f"the switch reaches d_max = {d_max:.4g} nm (default 3 r0), not below half the "
                f"shortest box edge ({half:.4g} nm), where distances stop being minimum-image; "
                f"give a shorter d_max (e.g. '{0.95 * half:.2f} nm', with n: 12, m: 24 the "
                f"switch is ~0 beyond 2 r0) or a larger cell", f"{field}.d_max")


def _coordination_r0(cfg: RunConfig, start_dir: RunDir, start: BuiltSystem) -> float | None:
    """r0 of a coordination CV left without one: first RDF minimum of the start run."""

    assert cfg.pmf is not None
    spec = cfg.pmf.cv
    if not isinstance(spec, CoordinationCVSpec) or spec.r0 is not None:
        return None
    traj = start_dir.trajectory(cfg.output.trajectory.format)
    if not traj.is_file():
        raise ConfigError("pmf.cv.r0: not given, and the start run wrote no trajectory to take "
                          "the RDF minimum from; give r0 or end stages with a production stage",
                          "pmf.cv.r0")
    import MDAnalysis as mda


    u = mda.Universe(str(start_dir.topology), str(traj))
    r0 = default_r0_nm(u, start.metadata)
    kind = spec.partner if spec.partner in r0 else next(iter(r0))
    _say(f"coordination r0 = {r0[kind]:.4g} nm (first RDF minimum of {kind} in the start run)")
    return float(r0[kind])


def _run_windows(cfg: RunConfig, dirs: list[RunDir], serial: bool, platform: str | None,
                 wanted: list[RunConfig]) -> None:
    """Run every unfinished window; a finished window whose last stage is shorter than
    ``wanted`` asks (only reachable through ``pmf --extend``) resumes and runs the rest."""
    assert cfg.pmf is not None
    tasks = []
    for d, wcfg in zip(dirs, wanted, strict=True):
        longer = _needs_extension(d, wcfg)
        if longer or not d.is_complete():
            tasks.append(Task(window_label(d), functools.partial(
                run_window, str(d.path), platform, extend_to=wcfg if longer else None)))
    if len(tasks) < len(dirs):
        _say(f"{len(dirs) - len(tasks)} of {len(dirs)} windows already complete: skipped")
    if not tasks:
        return
    _say(f"running {len(tasks)} windows " + ("serially" if serial else
                                             f"on Dask ({cfg.pmf.cluster.kind})"))
    run_tasks(tasks, cfg.pmf.cluster, serial=serial)


def _only_short(cfg: RunConfig, pdir: PMFDir, dirs: list[RunDir], wanted: list[RunConfig]
                ) -> list[RunConfig]:
    """``--only-short``: the windows to extend are the finished ones below the sample gate;
    every other finished window keeps the config it ran (is not extended). Records the
    chosen windows in the manifest."""
    assert cfg.pmf is not None
    done = [d for d, w in zip(dirs, wanted, strict=True)
            if d.is_complete() and _needs_extension(d, w)]
    short = short_windows(cfg, done)
    gate = cfg.pmf.estimator.min_effective_samples
    if not short:
        _say(f"--only-short: none of the {len(done)} windows shorter than the config has "
             f"fewer than {gate} effective samples; none extended")
    else:
        _say(f"--only-short: extending {len(short)} of {len(dirs)} windows: "
             f"{describe(short, gate)}")
        pdir.record_extension(cfg, [s.label for s in short])
    chosen = {s.label for s in short}
    return [w if window_label(d) in chosen or not d.has_inputs() else d.load_config()
            for d, w in zip(dirs, wanted, strict=True)]


def _needs_extension(rd: RunDir, wanted: RunConfig) -> bool:
    """The window's stored last stage is shorter than ``wanted``'s."""
    if not rd.has_inputs():
        return False
    stored = rd.load_config()
    last = len(stored.stages) - 1
    return wanted.stage_steps(last) > stored.stage_steps(last)


def window_series(rd: RunDir) -> tuple[np.ndarray, float, float, float, str]:
    """A window's production CV samples with its centre, k, temperature (K) and CV column.

    Raises
    ------
    WallEscapeError
        A wall of the window let its CV go (:mod:`.wallcheck`): the window is named and its
        samples never reach the estimator.
    """
    cfg = rd.load_config()
    if cfg.bias is None:
        raise RunDirectoryError(f"{rd.path}: not an umbrella window (no bias in config.yaml)")
    df, temperature_K = checked_production(rd, cfg)
    col = next(c for c in df.columns if c.startswith("cv ("))
    return (df[col].to_numpy(float), cfg.bias.center_value, cfg.bias.k_value, temperature_K,
            cfg.bias.cv.column)


def estimate(root: str | Path, cfg: RunConfig) -> tuple[Any, dict[str, Path]]:
    """MBAR PMF (or surface, with ``pmf.cv2``) from the complete, verified windows of every
    replica (outputs into ``root``). With ``pmf.replicas`` > 1 the windows of all replicas
    are pooled and each replica is estimated again on the same bins: their spread joins
    the stated uncertainty (:mod:`predesolv.analysis.replicas`)."""
    assert cfg.pmf is not None
    pdir = PMFDir(Path(root))
    by_replica = []
    for r in range(cfg.pmf.replicas):
        part = pdir.replica(r)
        dirs = part.window_dirs()
        missing = [window_label(d) for d in dirs if not d.is_complete()]
        if missing or not dirs:
            raise RunDirectoryError(f"{part.windows}: windows {missing or 'all'} are not "
                                    f"complete; run predesolv pmf again to finish them")
        for d in dirs:
            pdir.verify(d)
        by_replica.append(dirs)
    if cfg.pmf.cv2 is not None:
        return estimate_2d(pdir.root, cfg, by_replica)
    return _estimate_1d(pdir.root, cfg, by_replica)


def _estimate_1d(root: Path, cfg: RunConfig, by_replica: list[list[RunDir]]
                 ) -> tuple[Any, dict[str, Path]]:
    assert cfg.pmf is not None
    data = [[window_series(d) for d in dirs] for dirs in by_replica]
    est, spec = cfg.pmf.estimator, cfg.pmf.cv
    temps = {t for grp in data for *_, t, _ in grp}
    options = dict(temperature_K=temps.pop(), n_bootstraps=est.bootstraps,
                   decorrelate=est.decorrelate, detect_equilibration=est.detect_equilibration,
                   seed=est.seed, cv_unit=spec.unit,
                   min_effective_samples=est.min_effective_samples)

    def run(groups: list[list[Any]], bins: Any, half: bool = True) -> Any:
        flat = [x for g in groups for x in g]
        return estimate_pmf([s for s, *_ in flat],
                            [UmbrellaWindow(c, k, t) for _, c, k, t, _ in flat], bins,
                            half_split=half, **options)  # type: ignore[arg-type]

    result = run(data, est.bins)
    replicas = ([run([g], result.bin_edges, half=False) for g in data] if len(data) > 1
                else None)
    column = data[0][0][4]
    name, cv_unit = (column[:-3], "nm") if column.endswith("_nm") else (column, "")

    def rng(d: dict) -> dict:
        return {k: (spec.value(a, k), spec.value(b, k)) for k, (a, b) in d.items()}

    files = write_outputs(result, root, name, cv_unit, states=rng(est.states) or None,
                          ranges=rng(est.ranges) or None, replicas=replicas)
    return result, files


__all__ = ["PMFRunResult", "check_pmf", "estimate", "run_pmf", "run_window", "window_series",
           "write_pull_csv", "START", "PULL"]
