"""E2/E3 on two CVs: what the insertion study reads from a free-energy surface.

A config with ``pmf.cv2`` (insertion depth x × the Na–O(DME) coordination CN of the pulled
ion) is estimated as a surface (:mod:`predesolv.analysis.fes2d`; its files, read through
:class:`~predesolv.analysis.fes2d_outputs.FESFiles`, in the PMF folder). The study reads

* F(x), the projection of the surface on the depth (the same numbers the 1D rows use);
* the shell at each depth from the surface itself, unbiased: the conditional mean
  ⟨CN⟩(x) = Σ CN p(x, CN) / Σ p(x, CN) with p ∝ exp(−F/kT) over the sampled bins, and
  ⟨CN⟩/2 as the number of DME (each DME binds Na⁺ through both ether oxygens in the bulk
  shell: 6 O from 3 DME, study E1) — window averages would be biased by the CN restraints;
* whether the surface may carry a verdict: ``fes.json``'s ``converged`` (every window
  connected, halves and replicas agree) and a minimum free-energy path joining the two ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from predesolv.analysis.fes2d_outputs import FESFiles

#: Ether oxygens per DME in the Na⁺ shell (bidentate), to turn CN into a DME count.
O_PER_DME = 2.0


@dataclass(frozen=True)
class SurfaceStatus:
    """Whether a two-CV surface can carry a verdict, and why not."""

    converged: bool
    reason: str


def surface_projection(root: Path) -> pd.DataFrame:
    """F(x) of the surface in ``root`` (``fes_projection.csv``) with the 1D PMF's columns
    ``x_nm``, ``F_kJ_per_mol``, ``dF_kJ_per_mol``."""
    proj = FESFiles(root).projection()
    return pd.DataFrame({"x_nm": proj["x (nm)"], "F_kJ_per_mol": proj["F (kJ/mol)"],
                         "dF_kJ_per_mol": proj["dF (kJ/mol)"]})


def conditional_cn(fes: pd.DataFrame, kT: float) -> pd.DataFrame:
    """⟨CN⟩(x) from a surface table (``x (nm)``, ``cn``, ``F (kJ/mol)``; empty bins NaN).

    Returns
    -------
    pandas.DataFrame
        One row per depth bin with a sampled bin: ``x_nm``, ``cn_mean`` (the conditional
        mean), ``cn_mode`` (the CN of the lowest F at that depth).
    """
    rows = []
    for x, g in fes.dropna(subset=["F (kJ/mol)"]).groupby("x (nm)", sort=True):
        f = g["F (kJ/mol)"].to_numpy(float)
        w = np.exp(-(f - f.min()) / kT)
        cn = g["cn"].to_numpy(float)
        rows.append({"x_nm": float(x), "cn_mean": float(np.sum(w * cn) / np.sum(w)),
                     "cn_mode": float(cn[np.argmin(f)])})
    return pd.DataFrame(rows, columns=["x_nm", "cn_mean", "cn_mode"])


def surface_path_rows(root: Path) -> list[dict[str, Any]]:
    """The shell along the depth from the surface in ``root``: one row per depth bin with the
    columns the 1D path rows share (``center_nm``, ``insertion_nm``, ``cn_DME``,
    ``nmol_DME`` = ⟨CN⟩/:data:`O_PER_DME`) and ``cn_mode``."""
    files = FESFiles(root)
    kT = float(files.record()["temperature_kT_kJ_per_mol"])
    cn = conditional_cn(files.surface(), kT)
    return [{"window": f"x={r.x_nm:.3f}", "center_nm": r.x_nm, "insertion_nm": r.x_nm,
             "cn_DME": r.cn_mean, "nmol_DME": r.cn_mean / O_PER_DME, "cn_mode": r.cn_mode,
             "source": "surface"} for r in cn.itertuples()]


def surface_status(root: Path) -> SurfaceStatus:
    """``fes.json``'s verdict condition: converged, and a path joining both ends of x."""
    meta = FESFiles(root).record()
    barrier = meta.get("path", {}).get("barrier")
    if not meta.get("converged", False):
        why = "; ".join(meta.get("warnings") or []) or "fes.json says converged: false"
        return SurfaceStatus(False, why)
    if not isinstance(barrier, int | float):
        return SurfaceStatus(False, f"the minimum free-energy path: {barrier}")
    return SurfaceStatus(True, "")
