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
from openmm import unit

from predesolv.constants import kT_kJ_per_mol
from predesolv.errors import PredesolvRuntimeError
from predesolv.freeenergy.bias import resolve_cv, wall_column
from predesolv.freeenergy.definitions import cv_timeseries

#: Excursion beyond a wall's bound, in σ = sqrt(kT/k), above which the wall let go.
WALL_SIGMAS = 5.0


class WallEscapeError(PredesolvRuntimeError):
    """A window's CV left the range one of its walls allows."""


def past_bounds(values: np.ndarray, lower: float | None, upper: float | None) -> np.ndarray:
    """How far each value lies beyond either bound (CV unit; 0 inside, inf when not finite).

    Parameters
    ----------
    values : ndarray, shape (S,)
        A wall's CV at each sample or frame.
    lower, upper : float or None
        Bounds (CV unit; None: no wall on that side).
    """
    v = np.asarray(values, dtype=float)
    past = np.zeros_like(v)
    if upper is not None:
        past = np.maximum(past, v - upper)
    if lower is not None:
        past = np.maximum(past, lower - v)
    return np.where(np.isfinite(v), past, np.inf)


def worst_escape(values: np.ndarray, lower: float | None, upper: float | None
                 ) -> tuple[float, int]:
    """Largest distance beyond either bound (CV unit; 0 when always inside) and its index
    (-1 for no samples)."""
    past = past_bounds(values, lower, upper)
    if past.size == 0:
        return 0.0, -1
    i = int(np.argmax(past))
    return float(past[i]), i


def inside_walls(wall_values: np.ndarray, bounds: list[tuple[float | None, float | None]],
                 slack: list[float] | None = None) -> np.ndarray:
    """Which frames lie inside every flat-bottom wall (within ``slack`` of its bounds).

    Parameters
    ----------
    wall_values : ndarray, shape (F, W)
        Each wall's CV (its own unit) at each of ``F`` frames.
    bounds : list of (lower, upper), length W
        The walls' bounds (None: no wall on that side).
    slack : list of float, length W, optional
        How far past each wall's bounds still counts as inside (CV unit; default 0).

    Returns
    -------
    ndarray of bool, shape (F,)
    """
    v = np.asarray(wall_values, dtype=float).reshape(len(wall_values), len(bounds))
    extra = [0.0] * len(bounds) if slack is None else slack
    ok = np.ones(len(v), dtype=bool)
    for j, (lo, hi) in enumerate(bounds):
        ok &= past_bounds(v[:, j], lo, hi) <= extra[j]
    return ok


def allowed_excursion(k: float, kT_kJ_per_mol: float) -> float:
    """:data:`WALL_SIGMAS` σ with σ = sqrt(kT/k) (CV unit)."""
    return WALL_SIGMAS * math.sqrt(kT_kJ_per_mol / k)


def wall_allowances(walls: list[Any], temperature_K: float) -> list[float]:
    """:func:`allowed_excursion` of each wall (``WallConfig`` list) at ``temperature_K``."""
    kT = kT_kJ_per_mol(temperature_K)
    return [allowed_excursion(w.cv.force_constant(w.k, f"walls[{i}].k"), kT)
            for i, w in enumerate(walls)]


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
    for i, (wall, allow) in enumerate(zip(bias.walls, wall_allowances(bias.walls, temperature_K),
                                          strict=True)):
        lo, hi = wall.bounds()
        past, at = worst_escape(samples[i], lo, hi)
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
    fmt = rd.load_config().output.trajectory.format
    u = mda.Universe(str(rd.topology), str(rd.trajectory(fmt)))
    return {i: cv_timeseries(resolve_cv(w.cv, built, f"bias.walls[{i}].cv").cv, u)
            for i, w in enumerate(bias.walls)}, "trajectory frames"


def checked_production(rd: Any, cfg: Any) -> tuple[pd.DataFrame, float]:
    """A window's production rows of ``state.csv`` and its temperature (K), after
    :func:`check_walls` passed on them (``cfg``: the window's config, with a bias).

    Raises
    ------
    WallEscapeError
        A wall of the window let its CV go (the window is named).
    """
    df = pd.read_csv(rd.state)
    df = df[df["stage"] == cfg.stage_label(len(cfg.stages) - 1)]
    temperature_K = cfg.simulation.temperature.value_in_unit(unit.kelvin)
    if cfg.bias.walls:
        samples, source = wall_samples(rd, df, cfg.bias)
        check_walls(rd.path.name, cfg.bias, samples, temperature_K, source)
    return df, temperature_K


__all__ = ["WALL_SIGMAS", "WallEscapeError", "allowed_excursion", "check_walls",
           "checked_production", "inside_walls", "past_bounds", "wall_allowances",
           "wall_samples", "worst_escape"]
