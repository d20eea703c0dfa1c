"""Two-CV umbrella sampling: what ``predesolv pmf`` does differently when ``pmf.cv2`` is set.

The windows sit on the grid ``pmf.windows`` × ``pmf.cv2.windows``
(:func:`~predesolv.workflows.protocol.plan_windows`), each restrained on both CVs (the run's
``bias.cv2``). Each starts from the pull frame (or start structure) nearest its centre in
thermal widths of both CVs, ``Σ ((s_i - c_i) / σ_i)²`` with ``σ_i = sqrt(kT/k_i)``, among
the frames inside ``pmf.walls``. The estimate is a free-energy surface
(:func:`predesolv.analysis.fes2d.estimate_fes_2d`) written by
:mod:`predesolv.analysis.fes2d_outputs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from predesolv.analysis.fes2d import FES2DResult, Window2D, estimate_fes_2d
from predesolv.analysis.fes2d_outputs import write_fes_outputs
from predesolv.config import RunConfig
from predesolv.constants import kT_kJ_per_mol
from predesolv.errors import ConfigError, RunDirectoryError
from predesolv.rundir import RunDir

from .pmfdir import window_label
from .protocol import WindowPlan
from .wallcheck import checked_production


def same_second_term(old_bias: Any, plan: WindowPlan) -> bool:
    """Whether a window's stored bias has the second term ``plan`` asks for (or neither
    has one)."""
    term = old_bias.cv2
    if plan.center2 is None or plan.k2 is None:
        return term is None
    return term is not None and abs(term.center_value - plan.center2) <= 1e-9 and \
        abs(term.k_value - plan.k2) <= 1e-9 * plan.k2


def seed_frames_2d(values: np.ndarray, inside: np.ndarray, plans: list[WindowPlan],
                   temperature_K: float) -> list[int]:
    """For each window, the candidate frame nearest its centre in thermal widths of both
    CVs, among the frames marked ``inside``.

    Parameters
    ----------
    values : ndarray, shape (n_frames, 2)
        Both CVs at every candidate frame.
    inside : ndarray of bool, shape (n_frames,)
        Frames inside every wall (at least one).
    plans : list of WindowPlan
        Windows with ``center2`` and ``k2`` set.
    temperature_K : float

    Returns
    -------
    list of int
        A frame index per window.
    """
    kT = kT_kJ_per_mol(temperature_K)
    ok = np.nonzero(inside)[0]
    picks = []
    for p in plans:
        assert p.center2 is not None and p.k2 is not None
        d = (((values[ok, 0] - p.center) ** 2) * p.k
             + ((values[ok, 1] - p.center2) ** 2) * p.k2) / kT
        picks.append(int(ok[int(np.argmin(d))]))
    return picks


def check_second_cv(cfg: RunConfig) -> None:
    """A coordination ``cv2`` needs its ``r0`` (the RDF default serves ``pmf.cv`` only).

    Raises
    ------
    ConfigError
    """
    assert cfg.pmf is not None and cfg.pmf.cv2 is not None
    spec = cfg.pmf.cv2.cv
    if getattr(spec, "type", None) == "coordination" and getattr(spec, "r0", 0) is None:
        raise ConfigError("give r0 for a coordination CV used as pmf.cv2 (the first RDF "
                          "minimum default applies to pmf.cv only)", "pmf.cv2.cv.r0")


def window_series_2d(rd: RunDir) -> tuple[np.ndarray, Window2D, tuple[str, str]]:
    """Both CVs of a two-CV window's production samples (n, 2), its bias, the columns.

    Raises
    ------
    WallEscapeError
        A wall let the window's CV go (the window is named).
    RunDirectoryError
        Not a two-CV umbrella window.
    """
    cfg = rd.load_config()
    bias = cfg.bias
    if bias is None or bias.cv2 is None:
        raise RunDirectoryError(f"{rd.path}: not a two-CV umbrella window (no bias.cv2 in "
                                f"config.yaml)")
    df, temperature_K = checked_production(rd, cfg)
    c1 = next(c for c in df.columns if c.startswith("cv ("))
    c2 = next(c for c in df.columns if c.startswith("cv2 ("))
    window = Window2D((bias.center_value, bias.cv2.center_value),
                      (bias.k_value, bias.cv2.k_value), temperature_K)
    return (df[[c1, c2]].to_numpy(float), window,
            (bias.cv.column, bias.cv2.cv.column))


def estimate_2d(root: Path, cfg: RunConfig, by_replica: list[list[RunDir]]
                ) -> tuple[FES2DResult, dict[str, Path]]:
    """The free-energy surface of the finished, verified windows of every replica, pooled
    (outputs into ``root``); with several replicas each is estimated again on the same
    bins and their spread joins the stated uncertainty."""
    assert cfg.pmf is not None and cfg.pmf.cv2 is not None
    data = [[window_series_2d(d) for d in dirs] for dirs in by_replica]
    labels = [[window_label(d) for d in dirs] for dirs in by_replica]
    est = cfg.pmf.estimator
    columns = data[0][0][2]

    def run(groups: list[list[Any]], names: list[list[str]], bins: Any) -> FES2DResult:
        flat = [x for g in groups for x in g]
        return estimate_fes_2d([s for s, _, _ in flat], [w for _, w, _ in flat], bins,
                               decorrelate=est.decorrelate,
                               min_effective_samples=est.min_effective_samples,
                               n_bootstraps=est.bootstraps, seed=est.seed, names=columns,
                               window_names=[n for g in names for n in g])

    result = run(data, labels, (est.bins, cfg.pmf.cv2.bins or est.bins))
    replicas = ([run([g], [n], result.edges) for g, n in zip(data, labels, strict=True)]
                if len(data) > 1 else None)
    units = (cfg.pmf.cv.unit, cfg.pmf.cv2.cv.unit)
    names = tuple(c[:-3] if c.endswith("_nm") else c for c in columns)
    files = write_fes_outputs(result, root, (names[0], names[1]), units,
                              [n for g in labels for n in g], replicas=replicas)
    return result, files


__all__ = ["check_second_cv", "estimate_2d", "same_second_term", "seed_frames_2d",
           "window_series_2d"]
