"""Independent replicas of one free-energy estimate: their spread joins the uncertainty.

A PMF or surface run R times with different seeds (``pmf.replicas``) is estimated twice
over: once from all replicas' windows together (the reported F, MBAR over every window)
and once per replica on the same bins. Per bin, with s the standard deviation of the R
replica estimates (ddof = 1) and dF_boot the bootstrap error of the pooled estimate,

    dF = sqrt(dF_boot² + s² / R)

(s / sqrt(R) is the error of a mean of R independent estimates; a pooled estimate is at
least as precise, so this is conservative). The replicas **agree** when, wherever the pooled
F is below :data:`LOW_REGION_KT` kT, every replica lies within max(1 kT, 3 dF_r) of the
pooled value (dF_r: that replica's own bootstrap error; 1 kT alone without bootstraps).
Energies kJ/mol; arrays of any bin shape (1D PMF or 2D surface), replicas on axis 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: The region where the replicas must agree: pooled F below this many kT.
LOW_REGION_KT = 3.0


@dataclass
class ReplicaSpread:
    """What :func:`combine_replicas` returns.

    Attributes
    ----------
    dF_kJ_per_mol : ndarray
        Combined standard error per bin (bin shape).
    spread_kJ_per_mol : ndarray
        Standard deviation of the replica estimates per bin (NaN where < 2 are finite).
    agree : bool
        Every replica within its tolerance of the pooled value in the low region.
    warning : str or None
        Which replica departs where, by how much, when they do not agree.
    """

    dF_kJ_per_mol: np.ndarray
    spread_kJ_per_mol: np.ndarray
    agree: bool
    warning: str | None


def combine_replicas(pooled_F: np.ndarray, pooled_dF: np.ndarray, replica_F: np.ndarray,
                     replica_dF: np.ndarray, kT: float,
                     labels: list[str] | None = None) -> ReplicaSpread:
    """Combined error and agreement of R replica estimates with the pooled one.

    Parameters
    ----------
    pooled_F, pooled_dF : ndarray, bin shape
        The estimate from all replicas' windows and its bootstrap error (kJ/mol; NaN where
        unknown: taken as 0 in the combination).
    replica_F, replica_dF : ndarray, shape (R, *bin shape)
        Each replica's estimate on the same bins and its bootstrap error (kJ/mol). Each is
        shifted to best match the pooled F over the low region before comparing (free
        energies are defined up to a constant).
    kT : float
        kJ/mol.
    labels : list of str, optional
        Replica names for the message (default ``r0``, ``r1``, ...).

    Returns
    -------
    ReplicaSpread
    """
    rep = np.array(replica_F, dtype=float)
    low = np.isfinite(pooled_F) & (pooled_F < LOW_REGION_KT * kT)
    for r in range(rep.shape[0]):
        both = low & np.isfinite(rep[r])
        if both.any():
            rep[r] += np.mean(pooled_F[both] - rep[r][both])
    n = np.isfinite(rep).sum(axis=0)
    spread = np.full(pooled_F.shape, np.nan)
    ok = n >= 2
    spread[ok] = np.nanstd(rep[:, ok], axis=0, ddof=1)
    boot = np.nan_to_num(np.asarray(pooled_dF, dtype=float), nan=0.0)
    dF = np.sqrt(boot**2 + np.nan_to_num(spread, nan=0.0) ** 2 / max(rep.shape[0], 1))
    dF[~np.isfinite(pooled_F)] = np.nan
    warning = _disagreement(pooled_F, rep, np.asarray(replica_dF, dtype=float), low, kT,
                            labels or [f"r{r}" for r in range(rep.shape[0])])
    return ReplicaSpread(dF, spread, warning is None and rep.shape[0] >= 2, warning)


def replica_sigma(sigma_boot: float, values: np.ndarray) -> tuple[float, float]:
    """The combined error of one quantity (a ΔF, a barrier) and the replicas' spread:
    (sqrt(sigma_boot² + s² / R), s) with s the ddof = 1 standard deviation of the R replica
    ``values`` (NaN unless every value is finite; kJ/mol)."""
    values = np.asarray(values, dtype=float)
    s = float(np.std(values, ddof=1)) if np.isfinite(values).all() else math.nan
    return math.sqrt(sigma_boot**2 + s**2 / len(values)), s


def _disagreement(pooled: np.ndarray, rep: np.ndarray, rep_dF: np.ndarray, low: np.ndarray,
                  kT: float, labels: list[str]) -> str | None:
    tol = np.fmax(kT, 3 * np.nan_to_num(rep_dF, nan=0.0))
    excess = np.where(low & np.isfinite(rep), np.abs(rep - pooled) - tol, -np.inf)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    if excess[worst] <= 0:
        return None
    r, where = worst[0], worst[1:]
    return (f"replicas disagree: {labels[r]} differs from the pooled estimate by "
            f"{abs(rep[worst] - pooled[where]):.2f} kJ/mol in bin {tuple(int(i) for i in where)}"
            f", more than max(1 kT, 3 dF) = {tol[worst]:.2f} kJ/mol; no verdict on this "
            f"result (sample longer, or add replicas)")


__all__ = ["LOW_REGION_KT", "ReplicaSpread", "combine_replicas", "replica_sigma"]
