"""Did a window's flat-bottom walls hold? Checked before its samples reach the estimator.

A wall ``k/2 max(0, s - upper)²`` lets the CV ``s`` past its bound only by thermal
fluctuation: at equilibrium against a flat free energy the excursion is half-normal with
σ = sqrt(kT/k). A sample more than :data:`WALL_SIGMAS` σ beyond a bound (wall energy above
``WALL_SIGMAS²/2`` kT = 12.5 kT; probability ~6e-7 per independent sample on a flat
landscape) means the wall did not hold: the window started outside it, was dragged out, or
blew up, and its samples are not from the ensemble the walls define. Such a window is
refused by name, never averaged in.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from predesolv.constants import kT_kJ_per_mol
from predesolv.errors import PredesolvRuntimeError

from .bias import resolve_cv, wall_column

#: Excursion beyond a wall's bound, in σ = sqrt(kT/k), above which the wall let go.
WALL_SIGMAS = 5.0


class WallEscapeError(PredesolvRuntimeError):
    """A window's CV left the range one of its walls allows."""


def worst_escape(values: np.ndarray, lower: float | None, upper: float | None
                 ) -> tuple[float, int]:
    """Largest distance beyond either bound (CV unit; 0 when always inside) and its index.

    Parameters
    ----------
    values : ndarray, shape (S,)
        The wall's CV at each sample.
    lower, upper : float or None
        Bounds (CV unit).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return 0.0, -1
    past = np.zeros_like(v)
    if upper is not None:
        past = np.maximum(past, v - upper)
    if lower is not None:
        past = np.maximum(past, lower - v)
    past = np.where(np.isfinite(v), past, np.inf)
    i = int(np.argmax(past))
    return float(past[i]), i


def allowed_excursion(k: float, kT_kJ_per_mol: float) -> float:
    """:data:`WALL_SIGMAS` σ with σ = sqrt(kT/k) (CV unit)."""
    return WALL_SIGMAS * math.sqrt(kT_kJ_per_mol / k)


def check_walls(name: str, bias: Any, samples: dict[int, np.ndarray], temperature_K: float,
                source: str = "production samples") -> None:
    """Refuse the window ``name`` when any wall of ``bias`` let its CV go.

    Parameters
    ----------
    name : str
        Window name (e.g. ``w001``), used in the message.
    bias : BiasConfig
        The window's bias block (its ``walls``).
    samples : dict of int to ndarray
        Wall index -> that wall's CV at each sample (CV unit).
    temperature_K : float
    source : str
        Where the samples came from, for the message.

    Raises
    ------
    WallEscapeError
        Naming the window, the wall, its bound, the value reached and the allowance.
    """
    kT = kT_kJ_per_mol(temperature_K)
    for i, wall in enumerate(bias.walls):
        lo, hi = wall.bounds()
        k = wall.cv.force_constant(wall.k, f"walls[{i}].k")
        past, at = worst_escape(samples[i], lo, hi)
        allow = allowed_excursion(k, kT)
        if past > allow:
            value = float(np.asarray(samples[i])[at])
            side = f"upper {hi:.4g}" if hi is not None and value > hi else f"lower {lo:.4g}"
            u = wall.cv.unit
            raise WallEscapeError(
                f"window {name}: wall {i} ({wall.cv.type} CV, {side} {u}) did not hold: the "
                f"CV reached {value:.4g} {u} at sample {at} of its {source}, {past:.3g} {u} "
                f"beyond the bound where {WALL_SIGMAS:g} sqrt(kT/k) = {allow:.3g} {u} is "
                f"allowed. Its samples are not from the walled ensemble and are not used. "
                f"Remove the window's folder and run pmf again (it is seeded inside the walls), "
                f"or stiffen the wall")


def wall_samples(rd: Any, rows: pd.DataFrame, bias: Any) -> tuple[dict[int, np.ndarray], str]:
    """Each wall's CV over a window's production rows (``state.csv``), or — for a window
    recorded before wall columns existed — over every frame of its trajectory."""
    cols = [wall_column(i, w.cv.unit) for i, w in enumerate(bias.walls)]
    if all(c in rows.columns for c in cols):
        return {i: rows[c].to_numpy(float) for i, c in enumerate(cols)}, "production samples"
    import MDAnalysis as mda

    built = rd.load_built()
    cvs = [resolve_cv(w.cv, built, f"bias.walls[{i}].cv").cv for i, w in enumerate(bias.walls)]
    fmt = rd.load_config().output.trajectory.format
    u = mda.Universe(str(rd.topology), str(rd.trajectory(fmt)))
    out: dict[int, list[float]] = {i: [] for i in range(len(cvs))}
    for ts in u.trajectory:
        pos, box = ts.positions / 10.0, np.asarray(ts.dimensions[:3], dtype=float) / 10.0
        for i, cv in enumerate(cvs):
            out[i].append(float(cv.from_positions(pos, box)))
    return {i: np.asarray(v) for i, v in out.items()}, "trajectory frames"


__all__ = ["WALL_SIGMAS", "WallEscapeError", "allowed_excursion", "check_walls",
           "wall_samples", "worst_escape"]
