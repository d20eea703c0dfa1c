"""Radial distribution functions (MDAnalysis ``InterRDF``) and first-shell cutoffs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import MDAnalysis as mda
import numpy as np
import pandas as pd
from MDAnalysis.analysis.rdf import InterRDF

from predesolv.errors import AnalysisError
from predesolv.metadata import CATION, Metadata

from .io import coordination_partners, group
from .units import angstrom_to_nm

DEFAULT_RMAX_A = 10.0
DEFAULT_BIN_A = 0.05


def smoothed(g: np.ndarray, smooth: int = 5) -> np.ndarray:
    """Moving average of ``g`` over ``smooth`` bins, edges padded with the end values (the
    smoothing :func:`first_minimum` searches on); ``smooth`` <= 1 returns ``g``."""
    g = np.asarray(g, dtype=float)
    if smooth <= 1:
        return g
    k = np.ones(smooth) / smooth
    return np.convolve(np.pad(g, smooth // 2, mode="edge"), k, mode="valid")[: g.size]


def first_minimum(r: np.ndarray, g: np.ndarray, smooth: int = 5) -> float | None:
    """Position of the first minimum after the first-shell peak of an RDF.

    The first-shell peak is the first local maximum of the smoothed g(r) that exceeds both 1
    and 30 % of the highest value.

    Parameters
    ----------
    r : ndarray, shape (n,)
        Bin centres (any length unit; the result has the same unit).
    g : ndarray, shape (n,)
        g(r).
    smooth : int
        Width (bins) of the moving average applied before searching; 1 disables it.

    Returns
    -------
    float or None
        Centre of the first minimum (the middle of a flat minimum, e.g. a run of empty
        bins); ``None`` if g(r) is empty or never rises again after the peak.
    """
    r = np.asarray(r, dtype=float)
    g = np.asarray(g, dtype=float)
    if g.size < 3 or not np.any(g > 0):
        return None
    gs = smoothed(g, smooth)
    # first local maximum reaching 30 % of the highest peak (and g > 1): the first shell
    top = float(gs.max())
    peak = int(np.argmax(gs))
    for i in range(1, gs.size - 1):
        if gs[i] >= max(0.3 * top, 1.0) and gs[i] >= gs[i - 1] and gs[i] > gs[i + 1]:
            peak = i
            break
    for i in range(peak + 1, gs.size - 1):
        if gs[i] < gs[i + 1] and gs[i] <= gs[i - 1]:
            j = i
            while j - 1 > peak and gs[j - 1] == gs[i]:
                j -= 1
            return float(0.5 * (r[j] + r[i]))
    return None


def compute_rdfs(
    center: mda.AtomGroup,
    partners: Mapping[str, mda.AtomGroup],
    rmax_A: float | None = None,
    bin_A: float = DEFAULT_BIN_A,
    start: int | None = None,
    stop: int | None = None,
    step: int | None = None,
    verbose: bool = False,
) -> pd.DataFrame:
    """RDFs of ``center`` against each partner group, with the first-minimum cutoff.

    Same-residue pairs are excluded (as solvation_analysis does). ``rmax_A`` defaults to
    the smaller of 10 Å and half the shortest box edge of the first frame.

    Parameters
    ----------
    center : AtomGroup
        Usually the cations.
    partners : dict of str to AtomGroup
        Kind label to coordinating atoms.
    rmax_A, bin_A : float
        Range and bin width in Å.
    start, stop, step : int, optional
        Frame slice.

    Returns
    -------
    pandas.DataFrame
        Long table with columns ``kind``, ``r_nm``, ``g``, ``n_cumulative`` (mean number of
        partner atoms within r of a centre atom). ``.attrs["cutoffs_nm"]`` maps kind to the
        first-minimum position (nm, NaN when none was found).
    """
    if center.n_atoms == 0:
        raise AnalysisError("RDF centre selection is empty")
    if rmax_A is None:
        box = center.universe.dimensions
        rmax_A = DEFAULT_RMAX_A if box is None else min(DEFAULT_RMAX_A, 0.5 * float(min(box[:3])))
    nbins = max(10, int(round(rmax_A / bin_A)))
    frames, cutoffs = [], {}
    for kind, ag in partners.items():
        if ag.n_atoms == 0:
            raise AnalysisError(f"RDF partner selection {kind!r} is empty")
        rdf = InterRDF(center, ag, nbins=nbins, range=(0.0, rmax_A), exclude_same="residue")
        rdf.run(start=start, stop=stop, step=step, verbose=verbose)
        r, g = rdf.results.bins, rdf.results.rdf
        # mean number of partner atoms within r: integrate count per centre atom per frame
        n_frames = max(rdf.n_frames, 1)
        ncum = np.cumsum(rdf.results.count) / (center.n_atoms * n_frames)
        rmin = first_minimum(r, g)
        cutoffs[kind] = angstrom_to_nm(rmin) if rmin is not None else float("nan")
        frames.append(
            pd.DataFrame({"kind": kind, "r_nm": angstrom_to_nm(r), "g": g, "n_cumulative": ncum})
        )
    df = pd.concat(frames, ignore_index=True)
    df.attrs["cutoffs_nm"] = cutoffs
    return df


def cutoffs_from_rdfs(rdfs: pd.DataFrame) -> dict[str, float]:
    """Cutoffs (nm) stored by :func:`compute_rdfs`; raises if any kind has none."""
    cut = dict(rdfs.attrs.get("cutoffs_nm", {}))
    bad = [k for k, v in cut.items() if not np.isfinite(v)]
    if bad:
        raise AnalysisError(
            f"no first minimum found in the RDF of {', '.join(bad)}; pass cutoffs_nm explicitly"
        )
    return cut


def default_r0_nm(universe: Any, metadata: Metadata, cation_group: str = CATION,
                  **slice_kwargs: Any) -> dict[str, float]:
    """First minimum of each cation–partner RDF (nm), as the analysis chooses its cutoffs.

    Parameters
    ----------
    universe : MDAnalysis.Universe
        Topology and trajectory of a (preliminary) run.
    metadata : Metadata
    cation_group : str
        Metadata group of the RDF centres.
    **slice_kwargs
        ``start``, ``stop``, ``step`` frames for the RDF.

    Returns
    -------
    dict of str to float
        Kind (as :func:`partner_groups`) to r0 in nm.

    Raises
    ------
    predesolv.errors.AnalysisError
        An RDF has no first minimum.
    """
    rdf = compute_rdfs(group(universe, metadata, cation_group),
                       coordination_partners(universe, metadata), **slice_kwargs)
    return cutoffs_from_rdfs(rdf)
