"""Who holds the Na⁺ in the E7-300K windows: EC oxygens, and the N-oxide's own oxygen.

Next to an N-oxide the N–O oxygen can take a place in the ion's first shell, so a lower EC
count there is partly built in. This census separates the two: in every frame of every
window, the EC oxygens (the coordinating O of the ``solvent_O:EC`` group, the atoms the CV
counts) and, separately, the dopant's oxygen within the first-shell cutoff of the CV's ion
(the cutoff is the CV's r0: the rational switch is 1/2 there). Window means go to
``e7_300k_shell.csv``; windows are labelled by their CN centre.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from MDAnalysis.lib.distances import distance_array
from openmm import unit

from predesolv.analysis.io import load_run
from predesolv.config import load_config
from predesolv.freeenergy.groups import resolve_group
from predesolv.rundir import RunDir
from predesolv.workflows.pmfdir import PMFDir

from .digest import digested, finished_with_trajectory

#: Name of the per-window digest of the census (:mod:`.digest`).
CENSUS_DIGEST = "e7_shell_census"
#: Dopant types whose residue carries an oxygen that can coordinate the ion.
OXIDE_TYPES = ("n_oxide",)


def cv_cutoff_nm(cfg: Any) -> float | None:
    """The coordination CV's r0 (nm); None when the CV has no explicit r0 (the census then
    has no cutoff to share with it)."""
    r0 = getattr(cfg.pmf.cv, "r0", None)
    return None if r0 is None else float(r0.value_in_unit(unit.nanometer))


def oxide_oxygens(universe: Any, metadata: Any) -> np.ndarray:
    """Indices of the oxygen atoms (by atom name) of every oxide dopant residue (empty
    without one)."""
    names = universe.atoms.names
    return np.array([i for t in OXIDE_TYPES for i in metadata.groups.get(f"dopant:{t}", [])
                     if str(names[i]).upper().startswith("O")], int)


def window_census(universe: Any, metadata: Any, ion: int, cutoff_nm: float
                  ) -> dict[str, float]:
    """Means over the frames of one window's trajectory: EC oxygens within ``cutoff_nm`` of
    atom ``ion`` (``cn_EC_O``) and the share of frames with an oxide oxygen there
    (``oxide_O_in_shell``, NaN without an oxide dopant). Minimum-image distances."""
    ec = np.asarray(metadata.groups.get("solvent_O:EC", []), int)
    ox = oxide_oxygens(universe, metadata)
    cut_A = 10.0 * cutoff_nm
    counts, inside = [], []
    for ts in universe.trajectory:
        pos, box = universe.atoms.positions, ts.dimensions
        na = pos[[ion]]
        counts.append(int((distance_array(na, pos[ec], box=box) < cut_A).sum()) if ec.size
                      else 0)
        if ox.size:
            inside.append(bool((distance_array(na, pos[ox], box=box) < cut_A).any()))
    return {"frames": len(counts), "cn_EC_O": float(np.mean(counts)) if counts else np.nan,
            "oxide_O_in_shell": float(np.mean(inside)) if inside else np.nan}


def shell_rows(cfg: Any, root: Path, surface: str) -> list[dict[str, Any]]:
    """One census row per window of the PMF folder ``root`` (replica 0); none when the CV
    has no explicit r0."""
    r0 = cv_cutoff_nm(cfg)
    if r0 is None:
        return []
    rows = []
    for w in PMFDir(root).window_dirs():
        census = _census(cfg, w, r0)
        rows.append({"surface": surface, "window": w.path.name,
                     "cn_centre": w.load_config().bias.center_value, "cutoff_nm": r0,
                     "frames": int(census["frames"].iloc[0]),
                     **{k: float(census[k].iloc[0]) for k in ("cn_EC_O", "oxide_O_in_shell")}})
    return rows


def _census(cfg: Any, w: RunDir, r0: float) -> pd.DataFrame:
    """One window's census from its trajectory or its digest (:mod:`.digest`)."""
    return digested(w, CENSUS_DIGEST, {"cation": str(cfg.pmf.cv.cation), "cutoff_nm": r0},
                    functools.partial(_census_table, w.path, cfg.pmf.cv.cation, r0))


def digest_census(folder: Path, out: Path) -> None:
    """Write the census digest of every finished window the study reads (replica 0 of each
    surface), before a packed state leaves their trajectories out (:mod:`.state`)."""
    for path in sorted(folder.glob("*.yaml")):
        cfg = load_config(path)
        r0 = cv_cutoff_nm(cfg)
        root = out / path.stem
        if r0 is None or not root.is_dir():
            continue
        for w in PMFDir(root).window_dirs():
            if finished_with_trajectory(w):
                _census(cfg, w, r0)


def _census_table(run: Path, cation: Any, cutoff_nm: float) -> pd.DataFrame:
    """:func:`window_census` of one window as a one-row table (the digest's form)."""
    u, md = load_run(run)
    (ion,) = resolve_group(cation, md, u, field="pmf.cv.cation")
    return pd.DataFrame([window_census(u, md, ion, cutoff_nm)])


def _share(g: pd.DataFrame, mask: np.ndarray) -> str:
    """Frame-weighted share (%) of ``oxide_O_in_shell`` over the rows in ``mask``."""
    w = g["frames"].to_numpy(float)[mask]
    if not mask.any() or w.sum() == 0:
        return "—"
    return f"{100 * np.average(g['oxide_O_in_shell'].to_numpy(float)[mask], weights=w):.0f} %"


def oxide_sentence(rows: list[dict[str, Any]]) -> str:
    """How often the N–O oxygen sits in the ion's first shell, per surface with an oxide:
    the frame share over windows centred at CN ≤ 3 and at CN > 3."""
    df = pd.DataFrame(rows)
    if df.empty or df["oxide_O_in_shell"].isna().all():
        return "no oxide dopant: the ion's shell holds EC (and anion) oxygens only."
    parts = []
    for surface, g in df.dropna(subset=["oxide_O_in_shell"]).groupby("surface", sort=False):
        low = (g["cn_centre"] <= 3).to_numpy()
        parts.append(f"{surface}: N–O oxygen within {g['cutoff_nm'].iloc[0]:.2f} nm of Na⁺ in "
                     f"{_share(g, low)} of the frames of windows at CN ≤ 3, "
                     f"{_share(g, ~low)} at CN > 3")
    return "; ".join(parts) + "."
