"""Tables derived from a finished :class:`~.coordination.Coordination`: region summaries,
shell speciation and coordination profiles along the insertion coordinate."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from predesolv.errors import AnalysisError

from .coordination import Coordination

ALL = "all"


def _check(coord: Coordination) -> None:
    if not hasattr(coord.results, "counts"):
        raise AnalysisError("run() the Coordination analysis before deriving tables from it")


def shell_label(n_by_kind: Sequence[int], kinds: Sequence[str], cation: str = "Na") -> str:
    """Chemical label of a first shell, e.g. ``Na(DME)3`` or ``Na(DME)2(PF6)``.

    Parameters
    ----------
    n_by_kind : sequence of int
        Molecules of each kind in the shell.
    kinds : sequence of str
        Kind labels in the same order.
    cation : str
        Centre label.
    """
    parts = [f"({k}){n if n > 1 else ''}" for k, n in zip(kinds, n_by_kind, strict=True) if n > 0]
    return cation + "".join(parts) if parts else f"{cation} (bare)"


def summary_by_region(coord: Coordination) -> pd.DataFrame:
    """Mean coordination per region (and ``"all"``).

    Returns
    -------
    pandas.DataFrame
        One row per region: ``region``, ``n_samples`` (ion-frames), then per kind
        ``cn_<kind>_mean``, ``cn_<kind>_std`` (atoms), ``nmol_<kind>_mean`` (molecules),
        ``bidentate_fraction_<kind>`` (share of that kind's bound molecules binding through
        >= 2 atoms, NaN if none bound), and ``cn_total_mean``.
    """
    _check(coord)
    r = coord.results
    names = [ALL] + list(r.region_names)
    rows = []
    for name in names:
        mask = np.ones(r.regions.shape, bool) if name == ALL else r.regions == r.region_names.index(
            name
        )
        n = int(mask.sum())
        row = {"region": name, "n_samples": n}
        for j, k in enumerate(r.kinds):
            c = r.counts[:, :, j][mask]
            m = r.n_molecules[:, :, j][mask]
            multi = r.denticity[:, :, j, 1:].sum(axis=-1)[mask].sum()
            row[f"cn_{k}_mean"] = float(c.mean()) if n else np.nan
            row[f"cn_{k}_std"] = float(c.std()) if n else np.nan
            row[f"nmol_{k}_mean"] = float(m.mean()) if n else np.nan
            row[f"bidentate_fraction_{k}"] = float(multi / m.sum()) if m.sum() else np.nan
        row["cn_total_mean"] = float(r.counts.sum(axis=-1)[mask].mean()) if n else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def speciation(coord: Coordination, cation: str = "Na") -> pd.DataFrame:
    """Fractions of shell compositions, overall and per region.

    Returns
    -------
    pandas.DataFrame
        Columns ``region`` (``"all"`` first), ``shell`` (label, see :func:`shell_label`),
        ``n_<kind>`` for each kind, ``count`` (ion-frames) and ``fraction`` (of the region's
        ion-frames). Sorted by region, then decreasing fraction.
    """
    _check(coord)
    r = coord.results
    comp = r.n_molecules.reshape(-1, len(r.kinds))
    reg = r.regions.ravel()
    out = []
    for name in [ALL] + list(r.region_names):
        sel = comp if name == ALL else comp[reg == r.region_names.index(name)]
        if len(sel) == 0:
            continue
        uniq, cnt = np.unique(sel, axis=0, return_counts=True)
        for u, c in zip(uniq, cnt, strict=True):
            row = {"region": name, "shell": shell_label(u, r.kinds, cation)}
            row.update({f"n_{k}": int(v) for k, v in zip(r.kinds, u, strict=True)})
            row.update({"count": int(c), "fraction": float(c / len(sel))})
            out.append(row)
    df = pd.DataFrame(out)
    if df.empty:
        return df
    order = {n: i for i, n in enumerate([ALL] + list(r.region_names))}
    df["_o"] = df["region"].map(order)
    df = df.sort_values(["_o", "fraction"], ascending=[True, False]).drop(columns="_o")
    return df.reset_index(drop=True)


def profile(
    coord: Coordination,
    bin_nm: float = 0.1,
    range_nm: tuple[float, float] | None = None,
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Coordination as a function of the insertion coordinate (distance from the mouth).

    Each ion-frame is binned by ``results.insertion_nm``; bins are ``[lo, hi)``.

    Parameters
    ----------
    coord : Coordination
        A finished analysis whose geometry has an insertion axis.
    bin_nm : float
        Bin width (nm).
    range_nm : (float, float), optional
        Profile range (nm); default spans the data, aligned to multiples of ``bin_nm``.
    regions : sequence of str, optional
        Use only ion-frames in these regions (e.g. exclude the far reservoir of a slit open
        at both ends, whose insertion coordinate exceeds the slit length); default all.

    Returns
    -------
    pandas.DataFrame
        ``s_lo_nm``, ``s_hi_nm``, ``s_mid_nm``, ``n_samples``, and per kind
        ``cn_<kind>_mean``, ``cn_<kind>_sem`` (standard error over ion-frames),
        ``nmol_<kind>_mean``; then ``cn_total_mean``. Empty bins have ``n_samples`` 0, NaN
        means.

    Raises
    ------
    AnalysisError
        If there is no insertion axis or ``bin_nm`` <= 0.
    """
    _check(coord)
    if not coord.geometry.has_insertion:
        raise AnalysisError("CN profile needs geometry.insertion in metadata.json (bulk box?)")
    if not bin_nm > 0:
        raise AnalysisError(f"profile bin width must be > 0 nm, got {bin_nm}")
    r = coord.results
    s = _insertion_in_regions(r, regions)
    if range_nm is None:
        lo = np.floor(np.nanmin(s) / bin_nm) * bin_nm
        hi = (np.floor(np.nanmax(s) / bin_nm) + 1) * bin_nm
    else:
        lo, hi = map(float, range_nm)
    nb = max(1, int(round((hi - lo) / bin_nm)))
    edges = lo + bin_nm * np.arange(nb + 1)
    finite = np.isfinite(s)
    idx = np.zeros(s.shape, dtype=np.int64)
    idx[finite] = np.floor((s[finite] - lo) / bin_nm).astype(np.int64)
    ok = finite & (idx >= 0) & (idx < nb)
    n = np.bincount(idx[ok], minlength=nb)
    out = {"s_lo_nm": edges[:-1], "s_hi_nm": edges[1:], "s_mid_nm": 0.5 * (edges[:-1] + edges[1:])}
    out["n_samples"] = n
    with np.errstate(invalid="ignore", divide="ignore"):
        tot = np.zeros(nb)
        for j, k in enumerate(r.kinds):
            c = r.counts[:, :, j].ravel()[ok].astype(float)
            m = r.n_molecules[:, :, j].ravel()[ok].astype(float)
            s1 = np.bincount(idx[ok], weights=c, minlength=nb)
            s2 = np.bincount(idx[ok], weights=c * c, minlength=nb)
            mean = s1 / n
            var = np.maximum(s2 / n - mean**2, 0.0)
            out[f"cn_{k}_mean"] = mean
            out[f"cn_{k}_sem"] = np.where(n > 1, np.sqrt(var / np.maximum(n - 1, 1)), np.nan)
            out[f"nmol_{k}_mean"] = np.bincount(idx[ok], weights=m, minlength=nb) / n
            tot = tot + s1
        out["cn_total_mean"] = tot / n
    return pd.DataFrame(out)


def _insertion_in_regions(r: Any, regions: Sequence[str] | None) -> np.ndarray:
    """Insertion coordinate (nm) of every ion-frame, NaN outside ``regions``.

    Raises
    ------
    AnalysisError
        An unknown region, or nothing left to bin.
    """
    s = r.insertion_nm.ravel().copy()
    if regions is not None:
        unknown = sorted(set(regions) - set(r.region_names))
        if unknown:
            raise AnalysisError(
                f"profile: unknown region(s) {', '.join(unknown)}; regions: "
                f"{', '.join(r.region_names)}"
            )
        codes = [r.region_names.index(n) for n in regions]
        s[~np.isin(r.regions.ravel(), codes)] = np.nan
    if not np.isfinite(s).any():
        raise AnalysisError("profile: no ion-frames with an insertion coordinate to bin")
    return s
