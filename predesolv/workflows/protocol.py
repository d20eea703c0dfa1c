"""The run directories of a PMF and their configs: start run, steered pull, umbrella windows.

``predesolv pmf CONFIG`` writes, under ``output.directory``::

    start/            the config's own stages (minimise, equilibrate): an ordinary run
    pull/             steered pull (when a ``pull`` block is given): an ordinary run whose
                      config holds a ``bias`` with a moving centre; pull.csv beside it
    windows/w000/ ... one ordinary run per umbrella window (config.yaml holds its ``bias``)
    pmf.csv, pmf.png, overlap.png, histograms.png, barriers.json, windows.csv, overlap.csv

Every config here is derived from the user's :class:`~predesolv.config.RunConfig` through
its JSON dump (so it is validated exactly like a user's YAML) and written as the run's
``config.yaml``; ``predesolv run <dir>/config.yaml --resume`` continues any of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from openmm import unit

from predesolv.config import RunConfig, parse_config
from predesolv.config.freeenergy import PositionCVSpec
from predesolv.errors import ConfigError
from predesolv.freeenergy.bias import resolve_cv

START, PULL, WINDOWS = "start", "pull", "windows"
PULL_STAGE = "pull"


@dataclass(frozen=True)
class WindowPlan:
    """One umbrella window: index, centre (CV unit), force constant (kJ/mol per unit²); for
    a two-CV PMF also the centre and force constant on ``pmf.cv2``."""

    index: int
    center: float
    k: float
    center2: float | None = None
    k2: float | None = None

    @property
    def name(self) -> str:
        return f"w{self.index:03d}"


def plan_windows(cfg: RunConfig) -> list[WindowPlan]:
    """The windows of ``cfg.pmf`` in order (with ``pmf.cv2``: the grid, second CV fastest)."""
    assert cfg.pmf is not None
    pairs = list(zip(cfg.pmf.centers(), cfg.pmf.force_constants(), strict=True))
    second = cfg.pmf.cv2
    if second is None:
        return [WindowPlan(i, c, k) for i, (c, k) in enumerate(pairs)]
    grid = [(c, k, c2) for c, k in pairs for c2 in second.centers()]
    return [WindowPlan(i, c, k, c2, second.k_value) for i, (c, k, c2) in enumerate(grid)]


def fmt_value(value: float, cv_unit: str) -> Any:
    """A CV value as the YAML writes it (``"0.35 nm"`` or a number)."""
    return f"{value:.10g} {cv_unit}" if cv_unit else float(value)


def fmt_k(k: float, cv_unit: str) -> str:
    """A force constant with its unit."""
    return f"{k:.10g} kJ/mol/{cv_unit}**2" if cv_unit else f"{k:.10g} kJ/mol"


def _derived(cfg: RunConfig, out: Path, stages: list[Any], bias: dict | None,
             seed_offset: int, state_interval: Any = None,
             trajectory_interval: Any = None) -> RunConfig:
    """``cfg`` with other stages/bias/output folder, validated like a user's YAML."""
    data = cfg.model_dump(mode="json")
    data.pop("pull", None)
    data.pop("pmf", None)
    data["bias"] = bias
    data["stages"] = stages
    data["output"]["directory"] = str(out)
    if state_interval is not None:
        data["output"]["state_interval"] = state_interval
    if trajectory_interval is not None:
        data["output"]["trajectory"]["interval"] = trajectory_interval
    seed = int(cfg.simulation.seed or 0)
    data["simulation"]["seed"] = (seed + 1_000_003 * seed_offset) % (2**31 - 2) + 1
    return parse_config(data, source=str(out / "config.yaml"))


#: Seed stride between replicas (``pmf.replicas``): replica r runs with base seed
#: ``simulation.seed + REPLICA_SEED_STRIDE * r`` (its runs then derive theirs as above).
REPLICA_SEED_STRIDE = 7_777_777


def replica_config(cfg: RunConfig, index: int) -> RunConfig:
    """``cfg`` for replica ``index``: another base seed, everything else the same (replica
    0 is ``cfg`` itself)."""
    if index == 0:
        return cfg
    out = cfg.model_copy(deep=True)
    seed = int(cfg.simulation.seed or 0)
    out.simulation.seed = (seed + REPLICA_SEED_STRIDE * index) % (2**31 - 2) + 1
    return out


def start_config(cfg: RunConfig, root: Path) -> RunConfig:
    """The start run: the user's own stages, no bias."""
    return _derived(cfg, root / START, [s.model_dump(mode="json") for s in cfg.stages], None, 0)


def _steps(q: Any, dt_ps: float) -> int:
    return max(1, int(round(q.value_in_unit(unit.picosecond) / dt_ps)))


def pull_config(cfg: RunConfig, root: Path, start_value: float, n_windows: int) -> RunConfig:
    """The steered pull from ``start_value`` (the CV at the start structure) to the target.

    Stages: NVT at the starting centre (``pull.equilibration``), then the pulling stage
    (production) of ``|target - start| / speed`` (whole steps). Frames are written often
    enough for at least four per window spacing.
    """
    pull = cfg.pull
    assert pull is not None
    spec = pull.cv
    dt_ps = cfg.simulation.timestep.value_in_unit(unit.picosecond)
    target = spec.value(pull.target, "pull.target")
    speed = spec.rate(pull.speed, "pull.speed")
    n_pull = max(10, math.ceil(abs(target - start_value) / (speed * dt_ps)))
    every = max(1, n_pull // max(40, 4 * n_windows))
    n_pull = every * math.ceil(n_pull / every)
    stages: list[Any] = []
    if pull.equilibration is not None:  # whole intervals, so rows fall on the pull's ends
        n_eq = every * math.ceil(_steps(pull.equilibration, dt_ps) / every)
        stages.append({"type": "nvt", "name": "equilibrate",
                       "duration": f"{n_eq * dt_ps:.10g} ps"})
    stages.append({"type": "production", "name": PULL_STAGE,
                   "duration": f"{n_pull * dt_ps:.10g} ps"})
    u = spec.unit
    bias = {"cv": spec.model_dump(mode="json"), "center": fmt_value(start_value, u),
            "k": pull.k, "walls": [w.model_dump(mode="json") for w in pull.walls],
            "pull": {"target": pull.target, "rate": pull.speed,
                     "update_interval": pull.update_interval}}
    interval = f"{every * dt_ps:.10g} ps"
    return _derived(cfg, root / PULL, stages, bias, 1, state_interval=interval,
                    trajectory_interval=interval)


def window_config(cfg: RunConfig, root: Path, plan: WindowPlan,
                  r0_nm: float | None = None) -> RunConfig:
    """The run config of one umbrella window (``pmf.stages``, bias at the window centre)."""
    pmf = cfg.pmf
    assert pmf is not None
    spec = pmf.cv.model_dump(mode="json")
    if r0_nm is not None and spec.get("type") == "coordination" and spec.get("r0") is None:
        spec["r0"] = f"{r0_nm:.10g} nm"
    u = pmf.cv.unit
    bias = {"cv": spec, "center": fmt_value(plan.center, u), "k": fmt_k(plan.k, u),
            "walls": [w.model_dump(mode="json") for w in pmf.walls]}
    if pmf.cv2 is not None:
        assert plan.center2 is not None and plan.k2 is not None
        u2 = pmf.cv2.cv.unit
        bias["cv2"] = {"cv": pmf.cv2.cv.model_dump(mode="json"),
                       "center": fmt_value(plan.center2, u2), "k": fmt_k(plan.k2, u2)}
    sample = pmf.sample_interval.value_in_unit(unit.picosecond)
    traj = cfg.output.trajectory.interval.value_in_unit(unit.picosecond)
    prod = pmf.stages[-1]
    length = prod.duration.value_in_unit(unit.picosecond)  # type: ignore[union-attr]
    return _derived(cfg, root / WINDOWS / plan.name,
                    [s.model_dump(mode="json") for s in pmf.stages], bias, 2 + plan.index,
                    state_interval=f"{sample:.10g} ps",
                    trajectory_interval=f"{min(traj, length):.10g} ps")


def check_windows(cfg: RunConfig, built: Any, plans: list[WindowPlan]) -> None:
    """Refuse window centres a position CV cannot reach (beyond half the box from the origin:
    the CV wraps there) before anything is written.

    Raises
    ------
    ConfigError
        Naming ``pmf.windows`` and the allowed range.
    """

    assert cfg.pmf is not None
    spec = cfg.pmf.cv
    if not isinstance(spec, PositionCVSpec):
        return

    cv = resolve_cv(spec, built, "pmf.cv").cv
    box = built.topology.getPeriodicBoxVectors()
    if box is None:
        return
    axis = "xyz".index(cv.axis)
    half = box[axis][axis].value_in_unit(unit.nanometer) / 2 - 0.1
    bad = [p.center for p in plans if abs(p.center) > half]
    far = _slit_end_nm(built.metadata, cv)
    beyond = [p.center for p in plans if far is not None and p.center > far]
    if beyond:
        raise ConfigError(
            f"pmf.windows: centre {beyond[0]:.4g} nm lies beyond the slit, whose far end is "
            f"{far:.4g} nm from the mouth along the insertion coordinate; keep centres <= "
            f"{far:.4g} nm", "pmf.windows")
    if bad:
        raise ConfigError(
            f"pmf.windows: centre {bad[0]:.4g} nm lies more than {half:.3g} nm (half the box "
            f"along {cv.axis}, less 0.1 nm) from the CV origin, where the position wraps "
            f"around the periodic box; keep every centre within [-{half:.3g}, {half:.3g}] nm",
            "pmf.windows")


def _slit_end_nm(metadata: Any, cv: Any) -> float | None:
    """Far end of the slit on the insertion coordinate (None when ``cv`` is not it)."""
    geo = metadata.geometry
    ins = None if geo is None else geo.insertion
    if ins is None or cv.axis != ins.axis or abs(cv.origin_nm - ins.origin_nm) > 1e-9 \
            or cv.direction != ins.direction:
        return None
    ends = [r.bounds_nm[ins.axis] for r in geo.regions
            if r.name == "inside" and ins.axis in r.bounds_nm]
    if not ends:
        return None
    lo, hi = ends[0]
    return float((hi - ins.origin_nm) if ins.direction > 0 else (ins.origin_nm - lo))


def seed_frames(values: np.ndarray, inside: np.ndarray, centers: list[float]) -> list[int]:
    """For each centre, the frame nearest in the CV among the frames inside every wall.

    A window seeded from a frame outside its walls starts far from the ensemble it is meant
    to sample (the wall then has to drag the group in during the window, and a minimiser or
    a short window may never finish that); such frames are never chosen.

    Parameters
    ----------
    values : ndarray, shape (F,)
        The umbrella CV at each frame.
    inside : ndarray of bool, shape (F,)
        Frames inside every wall (:func:`.wallcheck.inside_walls`).
    centers : list of float
        Window centres (CV unit).

    Raises
    ------
    ValueError
        No frame lies inside the walls.
    """
    v = np.asarray(values, dtype=float)
    ok = np.flatnonzero(np.asarray(inside, dtype=bool))
    if ok.size == 0:
        raise ValueError("no frame lies inside every wall")
    return [int(ok[np.argmin(np.abs(v[ok] - c))]) for c in centers]
