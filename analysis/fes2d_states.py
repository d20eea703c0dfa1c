"""Free energies of states on a two-CV surface: a range of the first CV, every second-CV bin.

A state is a range ``lo <= cv1 <= hi`` of the first CV (a height above a wall, a depth in a
slit), whatever the second CV (the shell) does there. With F(i, j) = −kT ln p(i, j) per bin
(:mod:`predesolv.analysis.fes2d`, equal bin areas), its free energy is

    F_state = −kT ln Σ_{(i, j) in the state, sampled} exp(−F(i, j) / kT),

and a difference F_b − F_a is independent of the surface's zero. Uncertainty: the bins' own
standard errors propagated to first order (weights w = p / Σ p within the state; bins taken as
independent, an approximation) and, with replicas, the spread of the replicas' own
differences, combined as everywhere in predesolv: σ = sqrt(σ_bins² + s² / R). The mean of the
second CV within a state, ⟨cv2⟩ = Σ cv2 p / Σ p, tells which shell the state holds. Energies
kJ/mol.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Per-replica F columns of ``fes.csv``.
_REPLICA = re.compile(r"F replica (\d+) \(kJ/mol\)")


@dataclass(frozen=True)
class StateDifference:
    """F_b − F_a between two states of a surface (kJ/mol).

    Attributes
    ----------
    dF_kJ_per_mol : float
        From the pooled surface.
    sigma_kJ_per_mol : float
        σ_bins combined with the replica spread.
    replica_dF_kJ_per_mol : list of float
        Each replica's own difference (empty for one replica).
    cv2_mean_a, cv2_mean_b : float
        ⟨cv2⟩ in each state (pooled surface).
    """

    dF_kJ_per_mol: float
    sigma_kJ_per_mol: float
    replica_dF_kJ_per_mol: list[float]
    cv2_mean_a: float
    cv2_mean_b: float


def _in_state(fes: pd.DataFrame, cv1: str, lo: float, hi: float, column: str) -> pd.DataFrame:
    sel = fes[(fes[cv1] >= lo - 1e-12) & (fes[cv1] <= hi + 1e-12)]
    return sel[np.isfinite(sel[column].to_numpy(float))]


def state_free_energy(fes: pd.DataFrame, cv1: str, lo: float, hi: float, kT: float,
                      column: str = "F (kJ/mol)") -> tuple[float, float]:
    """F of the state ``lo <= cv1 <= hi`` and its σ from the bins' ``dF (kJ/mol)``.

    Parameters
    ----------
    fes : pandas.DataFrame
        A ``fes.csv`` table (one row per bin).
    cv1 : str
        The first CV's column (``"x (nm)"``, ``"z (nm)"``).
    lo, hi : float
        The state's range of the first CV (its unit).
    kT : float
        kJ/mol.
    column : str
        The F column (a replica's to estimate that replica).

    Returns
    -------
    (float, float)
        F_state and σ (kJ/mol); NaN when the state holds no sampled bin.
    """
    sel = _in_state(fes, cv1, lo, hi, column)
    if sel.empty:
        return math.nan, math.nan
    f = sel[column].to_numpy(float)
    fmin = f.min()
    p = np.exp(-(f - fmin) / kT)
    F = fmin - kT * math.log(p.sum())
    w = p / p.sum()
    d = np.nan_to_num(sel["dF (kJ/mol)"].to_numpy(float)) if "dF (kJ/mol)" in sel else 0 * f
    return float(F), float(np.sqrt(np.sum((w * d) ** 2)))


def cv2_mean(fes: pd.DataFrame, cv1: str, cv2: str, lo: float, hi: float, kT: float) -> float:
    """⟨cv2⟩ over the state ``lo <= cv1 <= hi`` (Boltzmann weights of the pooled F)."""
    sel = _in_state(fes, cv1, lo, hi, "F (kJ/mol)")
    if sel.empty:
        return math.nan
    f = sel["F (kJ/mol)"].to_numpy(float)
    p = np.exp(-(f - f.min()) / kT)
    return float(np.sum(p * sel[cv2].to_numpy(float)) / p.sum())


def state_difference(fes: pd.DataFrame, cv1: str, cv2: str, a: tuple[float, float],
                     b: tuple[float, float], kT: float) -> StateDifference:
    """F_b − F_a on the surface ``fes`` (see the module docstring), with each replica's own
    difference where ``fes`` has ``F replica r (kJ/mol)`` columns."""
    fa, sa = state_free_energy(fes, cv1, *a, kT)
    fb, sb = state_free_energy(fes, cv1, *b, kT)
    reps = sorted((int(m.group(1)), c) for c in fes.columns if (m := _REPLICA.fullmatch(c)))
    values = [state_free_energy(fes, cv1, *b, kT, c)[0] - state_free_energy(fes, cv1, *a, kT,
                                                                            c)[0]
              for _, c in reps]
    sigma = math.hypot(sa, sb)
    if len(values) > 1 and all(np.isfinite(values)):
        sigma = math.sqrt(sigma ** 2 + float(np.var(values, ddof=1)) / len(values))
    return StateDifference(fb - fa, sigma, values, cv2_mean(fes, cv1, cv2, *a, kT),
                           cv2_mean(fes, cv1, cv2, *b, kT))
