"""The first shell of one ion along an insertion path: how many molecules, how many of them
have followed it into the slit, and how flat the shell is.

Used on the windows and the pull of an insertion PMF (``predesolv study E2``): each window is
an ordinary run directory, and :func:`shell_along_path` gives one row per frame, which
:func:`window_means` averages per window.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from predesolv.errors import AnalysisError, ConfigError
from predesolv.freeenergy.groups import resolve_group

from .coordination import Coordination
from .geometry import Geometry
from .io import coordination_partners, group, load_run
from .units import angstrom_to_nm


def _minimum_image(d_A: np.ndarray, box_A: np.ndarray) -> np.ndarray:
    """Minimum-image displacement (Å) in an orthorhombic box of edge lengths ``box_A``."""
    return d_A - box_A * np.round(d_A / box_A)


def shell_along_path(run_dir: str | Path, ion: int = 0,
                     cutoffs_nm: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Per-frame first shell of cation ``ion`` of a run directory.

    Parameters
    ----------
    run_dir : str or Path
        A predesolv run directory of an electrode cell (an insertion axis in its metadata).
    ion : int
        Index in the cation group: ``0`` for the CV group ``"cation[0]"``.
    cutoffs_nm : dict of str to float, optional
        First-shell cutoff per partner kind (nm); kinds left out take the first RDF minimum
        of this trajectory (noisy for one short window: give them).

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``time_ps``, ``insertion_nm`` (the ion's distance from the mouth,
        positive inside), per partner kind ``cn_<kind>`` (coordinating atoms) and
        ``nmol_<kind>`` (molecules), per solvent kind ``inside_<kind>`` (shell molecules
        whose heavy-atom centroid, taken whole around the ion, lies inside the mouth),
        ``shell_z_extent_nm`` (largest ``|z_atom - z_ion|`` over the coordinating atoms,
        NaN for an empty shell; with the slit normal along z, a planar shell has a small
        value) and ``members`` (``KIND#resindex`` joined by ``;``).

    Raises
    ------
    AnalysisError
        No insertion axis, no cation ``ion``, or no partner atoms.
    """
    u, md = load_run(run_dir)
    geo = Geometry.from_metadata(md)
    if not geo.has_insertion:
        raise AnalysisError(f"{run_dir}: the run has no insertion axis (not an electrode cell)")
    ions = group(u, md, "cation")
    if not 0 <= ion < ions.n_atoms:
        raise AnalysisError(f"ion {ion}: the cation group has {ions.n_atoms} atoms")
    partners = coordination_partners(u, md)
    coord = Coordination(ions[[ion]], partners, cutoffs_nm=cutoffs_nm, geometry=geo).run()
    r = coord.results
    shell = r.shell
    solvents = [k for k in r.kinds if k in md.solvent_names()]
    cut_A = {k: 10.0 * r.cutoffs_nm[k] for k in r.kinds}
    rows = []
    for fi, ts in enumerate(u.trajectory):
        here = shell[shell["frame_index"] == fi]
        rows.append(_frame_row(u, ts, ions[ion], here, partners, cut_A, solvents, geo))
    out = pd.DataFrame(rows)
    out.insert(0, "time_ps", r.times_ps)
    out.insert(1, "insertion_nm", r.insertion_nm[:, 0])
    for j, k in enumerate(r.kinds):
        out[f"cn_{k}"] = r.counts[:, 0, j]
        out[f"nmol_{k}"] = r.n_molecules[:, 0, j]
    out.attrs["cutoffs_nm"] = dict(r.cutoffs_nm)
    return out


def _frame_row(u, ts, ion_atom, here: pd.DataFrame, partners, cut_A: dict[str, float],
               solvents: list[str], geo: Geometry) -> dict:
    """Shell members, molecules inside the mouth and the shell's z extent of one frame."""
    box = np.asarray(ts.dimensions[:3], dtype=float)
    centre = ion_atom.position.astype(float)
    inside = dict.fromkeys(solvents, 0)
    z_ext = np.nan
    members = []
    for kind, rix in zip(here["kind"].astype(str), here["resindex"], strict=True):
        members.append(f"{kind}#{int(rix)}")
        res = u.residues[int(rix)]
        heavy = res.atoms[res.atoms.masses > 1.5]
        whole = centre + _minimum_image(heavy.positions - centre, box)
        if kind in inside:
            s = geo.insertion_coordinate(whole.mean(axis=0)[None, :], ts.dimensions)[0]
            inside[kind] += int(s >= 0.0)
        ag = partners[kind]
        mine = ag[ag.resindices == int(rix)]
        d = _minimum_image(mine.positions - centre, box)
        close = np.linalg.norm(d, axis=1) <= cut_A[kind]
        if close.any():
            z = float(angstrom_to_nm(np.abs(d[close, 2]).max()))
            z_ext = z if np.isnan(z_ext) else max(z_ext, z)
    row: dict = {f"inside_{k}": v for k, v in inside.items()}
    row["shell_z_extent_nm"] = z_ext
    row["members"] = ";".join(members)
    return row


def window_means(frames: pd.DataFrame) -> dict[str, float]:
    """Averages of the numeric columns of :func:`shell_along_path` (NaN-aware), with the
    number of frames (``n_frames``)."""
    num = frames.select_dtypes("number").drop(columns=["time_ps"], errors="ignore")
    out = {c: float(np.nanmean(num[c])) if num[c].notna().any() else float("nan")
           for c in num.columns}
    out["n_frames"] = float(len(frames))
    return out


def cations_at_molecule(run_dir: str | Path, solvent: str, molecule: int,
                        cutoff_nm: float) -> pd.DataFrame:
    """Per frame, the cations bound to one solvent molecule: is it a lone molecule?

    Parameters
    ----------
    run_dir : str or Path
        A predesolv run directory.
    solvent : str
        Solvent name (``"DME"``): its metadata groups ``solvent:<name>`` (every atom) and
        ``solvent_O:<name>`` (coordinating O).
    molecule : int
        Which molecule: the ``molecule``-th distinct residue of ``solvent:<name>`` in order of
        first appearance (the numbering of the CV group ``"solvent:DME#k"``).
    cutoff_nm : float
        A cation counts as bound when it lies within this of one of the molecule's
        coordinating O atoms (minimum image), in nm.

    Returns
    -------
    pandas.DataFrame
        One row per frame: ``time_ps``, ``n_cations`` (cations within ``cutoff_nm`` of an O of
        the molecule) and ``min_cation_O_nm`` (the shortest cation–O distance).

    Raises
    ------
    AnalysisError
        No such solvent group or molecule.
    """
    u, md = load_run(run_dir)
    spec = f"solvent:{solvent}#{molecule}"
    try:  # the CV's own reading of the spec, so the numbering is the pulled group's
        atoms = set(resolve_group(spec, md, u))
    except ConfigError as exc:
        raise AnalysisError(str(exc)) from None
    oxygens = group(u, md, f"solvent_O:{solvent}")
    mine = oxygens[[i for i, a in enumerate(oxygens.indices) if int(a) in atoms]]
    if mine.n_atoms == 0:
        raise AnalysisError(f"solvent:{solvent}#{molecule} has no coordinating O atom")
    ions = group(u, md, "cation")
    rows = []
    for ts in u.trajectory:
        box = np.asarray(ts.dimensions[:3], dtype=float)
        d = _minimum_image(ions.positions[:, None, :] - mine.positions[None, :, :], box)
        r_nm = angstrom_to_nm(np.linalg.norm(d, axis=2).min(axis=1))
        rows.append({"time_ps": float(ts.time), "n_cations": int(np.sum(r_nm < cutoff_nm)),
                     "min_cation_O_nm": float(r_nm.min())})
    return pd.DataFrame(rows)
