"""Warnings where an analysis number means little: each names the number that triggered it.

Three checks, applied by :func:`predesolv.analysis.run_analyses` and reported in
``summary.json`` (``warnings``), on screen and in ``report.html``:

* **Residence times** from fewer than :data:`MIN_RESIDENCE_PAIRS` ion–partner pairs, or whose
  τ is not at least :data:`MIN_SPAN_PER_TAU` times shorter than the analysed trajectory (the
  correlation function has then not decayed over enough of the run to define τ).
* **Diffusion coefficients** fitted over less than :data:`MIN_FIT_SPAN_PS`, or where the MSD
  is not yet diffusive in the fit window (log–log slope outside 1 ± :data:`SLOPE_TOLERANCE`;
  ballistic motion gives 2, caging < 1).
* **RDF-minimum cutoffs** that are not a clear minimum: the smoothed g(r) at the minimum must
  fall to at most :data:`MAX_MIN_TO_PEAK` of the first peak and not fall by more than
  :data:`MAX_DEEPER` of it within :data:`LOOKAHEAD_NM` after (else it is a noise dip inside
  the first peak, with the true minimum further out). Otherwise the cutoff falls back
  to :data:`DEFAULT_CUTOFFS_NM` for that kind when one is documented, and the warning says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rdf import smoothed

#: Fewest ion–partner pairs behind a residence time.
MIN_RESIDENCE_PAIRS = 20
#: The analysed trajectory must span at least this many τ.
MIN_SPAN_PER_TAU = 5.0
#: Shortest MSD fit window (ps).
MIN_FIT_SPAN_PS = 10.0
#: |d ln MSD / d ln t - 1| allowed over the fit window.
SLOPE_TOLERANCE = 0.3
#: Smoothed g(r_min) / g(first peak) above which a first minimum is not clear.
MAX_MIN_TO_PEAK = 0.5
#: A further fall of the smoothed g within :data:`LOOKAHEAD_NM` after the minimum, as a
#: fraction of the first peak, above which the minimum is a dip inside the first peak.
MAX_DEEPER = 0.1
LOOKAHEAD_NM = 0.05
#: Fallback cutoffs (nm) by kind: the first RDF minima of predesolv's own 1 M NaPF6/DME run at
#: 298 K (study E1, paper size, 500 ps; ``docs/results/studies/E1-paper/napf6_dme/cutoffs.csv``).
DEFAULT_CUTOFFS_NM = {"DME": 0.3675, "PF6": 0.3475}


def residence_warnings(taus: pd.DataFrame, span_ps: float) -> list[str]:
    """Warnings for ``residence_times.csv`` rows (columns ``region``, ``kind``, ``tau_ps``,
    ``n_pairs``) of a trajectory ``span_ps`` long."""
    out = []
    for _, r in taus.iterrows():
        where = f"residence {r['kind']} / {r['region']}"
        tau = float(r["tau_ps"]) if pd.notna(r["tau_ps"]) else float("nan")
        n = int(r["n_pairs"])
        if n == 0:
            continue  # nothing is reported for this region
        shown = f"τ = {tau:.3g} ps" if np.isfinite(tau) else "τ (not reached)"
        if n < MIN_RESIDENCE_PAIRS:
            out.append(f"{where}: {shown} from {n} ion–partner pair(s) "
                       f"(< {MIN_RESIDENCE_PAIRS}): not a meaningful average")
        elif np.isfinite(tau) and tau * MIN_SPAN_PER_TAU > span_ps:
            out.append(f"{where}: τ = {tau:.3g} ps but the trajectory spans only "
                       f"{span_ps:.3g} ps (< {MIN_SPAN_PER_TAU:g} τ): τ is not resolved")
    return out


def msd_slope(lag_ps: np.ndarray, msd: np.ndarray, start_ps: float, end_ps: float) -> float:
    """Least-squares slope of ln MSD against ln t over ``[start_ps, end_ps]`` (NaN when
    fewer than two positive points)."""
    t, m = np.asarray(lag_ps, float), np.asarray(msd, float)
    ok = (t >= start_ps) & (t <= end_ps) & (t > 0) & (m > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(t[ok]), np.log(m[ok]), 1)[0])


def diffusion_warnings(msd: pd.DataFrame, diff: pd.DataFrame) -> list[str]:
    """Warnings for ``diffusion.csv`` rows, from their fit windows and ``msd.csv``."""
    out = []
    for _, r in diff.iterrows():
        a, b = float(r["fit_start_ps"]), float(r["fit_end_ps"])
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        where = f"diffusion {r['species']} / {r['region']}"
        sel = msd[(msd["species"] == r["species"]) & (msd["region"] == r["region"])]
        slope = msd_slope(sel["lag_ps"].to_numpy(), sel["msd_3d_nm2"].to_numpy(), a, b)
        if b - a < MIN_FIT_SPAN_PS:
            out.append(f"{where}: D fitted over {a:.3g}–{b:.3g} ps ({b - a:.3g} ps < "
                       f"{MIN_FIT_SPAN_PS:g} ps; MSD log–log slope {slope:.2f}): too short "
                       f"for a diffusion coefficient")
        elif np.isfinite(slope) and abs(slope - 1) > SLOPE_TOLERANCE:
            out.append(f"{where}: MSD log–log slope {slope:.2f} over {a:.3g}–{b:.3g} ps, not "
                       f"diffusive (1 ± {SLOPE_TOLERANCE:g}): D is not defined there")
    return out


def minimum_clarity(r_nm: np.ndarray, g: np.ndarray, r_min_nm: float, smooth: int = 5
                    ) -> tuple[float, float]:
    """How clear a first minimum is, on the smoothed g(r) (as :func:`.rdf.first_minimum`).

    Returns
    -------
    depth : float
        g at ``r_min_nm`` over the first-peak height (highest g before it); 1 when undefined.
    deeper : float
        How far g falls further within :data:`LOOKAHEAD_NM` after ``r_min_nm``, over the
        first-peak height (0 when it does not): a noise dip inside the first peak is followed
        by a deeper true minimum.
    """
    r, g = np.asarray(r_nm, float), np.asarray(g, float)
    if not np.isfinite(r_min_nm) or g.size < 3:
        return 1.0, 0.0
    gs = smoothed(g, smooth)
    before = gs[r < r_min_nm]
    if before.size == 0 or before.max() <= 0:
        return 1.0, 0.0
    peak, at = float(before.max()), float(np.interp(r_min_nm, r, gs))
    after = gs[(r > r_min_nm) & (r <= r_min_nm + LOOKAHEAD_NM)]
    deeper = max(0.0, at - float(after.min())) if after.size else 0.0
    return at / peak, deeper / peak


def checked_cutoffs(rdfs: pd.DataFrame, auto: dict[str, float]
                    ) -> tuple[dict[str, float], dict[str, str], list[str]]:
    """First-minimum cutoffs checked for clarity.

    Returns
    -------
    cutoffs : dict of str to float
        Kind to cutoff (nm): the RDF minimum when clear, else the documented default.
    sources : dict of str to str
        ``rdf_first_minimum`` or ``default`` per kind.
    warnings : list of str
    """
    cut, src, out = dict(auto), {k: "rdf_first_minimum" for k in auto}, []
    for kind, r_min in auto.items():
        part = rdfs[rdfs["kind"] == kind]
        depth, deeper = minimum_clarity(part["r_nm"].to_numpy(), part["g"].to_numpy(), r_min)
        if depth <= MAX_MIN_TO_PEAK and deeper <= MAX_DEEPER:
            continue
        msg = (f"RDF Na–{kind}: the first minimum at {r_min:.4g} nm is not clear (g there is "
               f"{depth:.2f} of the first peak, and falls by a further {deeper:.2f} of it "
               f"within {LOOKAHEAD_NM:g} nm; a clear one is <= {MAX_MIN_TO_PEAK:g} and "
               f"<= {MAX_DEEPER:g})")
        if kind in DEFAULT_CUTOFFS_NM:
            cut[kind], src[kind] = DEFAULT_CUTOFFS_NM[kind], "default"
            msg += (f"; using the documented default {DEFAULT_CUTOFFS_NM[kind]:g} nm "
                    f"(pass --cutoffs {kind}=... to choose)")
        else:
            msg += "; no documented default for this kind: pass --cutoffs"
        out.append(msg)
    return cut, src, out


__all__ = ["DEFAULT_CUTOFFS_NM", "MAX_MIN_TO_PEAK", "MIN_FIT_SPAN_PS", "MIN_RESIDENCE_PAIRS",
           "MIN_SPAN_PER_TAU", "SLOPE_TOLERANCE", "checked_cutoffs", "diffusion_warnings",
           "minimum_clarity", "msd_slope", "residence_warnings"]
