"""Matplotlib figures for the analysis tables (no pyplot state; safe headless).

Every function takes the DataFrame produced by the matching analysis and returns a
:class:`matplotlib.figure.Figure`; :func:`save` writes it as PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG and return the path."""
    path = Path(path)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _fig(w=5.0, h=3.5):
    fig = Figure(figsize=(w, h))
    return fig, fig.add_subplot(1, 1, 1)


def pair_label(kind: str, labels: dict[str, str] | None = None) -> str:
    """Legend name of a partner kind: ``labels[kind]`` (``"Na–O(DME)"``) or ``"Na–<kind>"``."""
    return (labels or {}).get(kind, f"Na–{kind}")


def plot_rdf(rdf: pd.DataFrame, cutoffs_nm: dict[str, float] | None = None,
             labels: dict[str, str] | None = None) -> Figure:
    """g(r) per kind (columns ``kind``, ``r_nm``, ``g``); first-shell cutoffs as labelled
    dashed lines.

    ``labels`` maps a kind to what is counted (``{"DME": "Na–O(DME)"}``).
    """
    fig, ax = _fig()
    for i, (k, d) in enumerate(rdf.groupby("kind", sort=False)):
        name = pair_label(str(k), labels)
        line = ax.plot(d["r_nm"], d["g"], label=name, color=f"C{i}")[0]
        c = (cutoffs_nm or {}).get(str(k), np.nan)
        if np.isfinite(c):
            ax.axvline(c, ls="--", color=line.get_color(), lw=0.8,
                       label=f"{name} shell cutoff {c:.3f} nm")
    ax.set_xlabel("r (nm)")
    ax.set_ylabel("g(r)")
    ax.legend(fontsize=7)
    return fig


def plot_profile(prof: pd.DataFrame, kinds: list[str], labels: dict[str, str] | None = None,
                 slit_nm: tuple[float, float] | None = None,
                 regions: list[str] | None = None) -> Figure:
    """CN per kind vs the insertion coordinate (mouth at 0, inside > 0).

    ``slit_nm`` (insertion-coordinate range of the slit interior, nm) is shaded; ``regions``
    (the regions whose ion-frames were binned) goes into the title. Bins without samples are
    left out; the legend sits below the axes, off the data.
    """
    fig, ax = _fig(5.5, 4.0)
    d = prof[prof["n_samples"] > 0]
    if slit_nm is not None:
        ax.axvspan(slit_nm[0], slit_nm[1], color="0.92", zorder=0, label="slit interior")
    for k in kinds:
        ax.errorbar(d["s_mid_nm"], d[f"cn_{k}_mean"], yerr=d[f"cn_{k}_sem"], marker="o",
                    ms=3, capsize=2, label=f"CN {pair_label(k, labels)}")
    ax.plot(d["s_mid_nm"], d["cn_total_mean"], "k-", lw=1, label="CN total")
    ax.axvline(0.0, color="grey", ls=":", lw=1, label="mouth")
    ax.set_xlabel("distance from the mouth along the insertion axis (nm; inside > 0)")
    ax.set_ylabel("coordination number")
    if regions:
        ax.set_title(f"ion-frames in: {', '.join(regions)}", fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3,
              frameon=False)
    return fig


def plot_speciation(spec: pd.DataFrame, top: int = 6,
                    regions: list[str] | None = None) -> Figure:
    """Stacked bars of shell fractions per region (the ``top`` most common shells).

    Every bar is labelled with its number of ion-frames; a region in ``regions`` that no ion
    visited is drawn as an empty bar marked "no ions".
    """
    fig, ax = _fig(6.5, 3.8)
    ax.set_xlabel("region")
    ax.set_ylabel("fraction of ion-frames")
    ax.set_ylim(0, 1.12)
    seen = list(dict.fromkeys(spec["region"])) if not spec.empty else []
    regions = list(dict.fromkeys([*(regions or []), *seen]))
    if not regions:
        return fig
    x = np.arange(len(regions))
    n = (spec.groupby("region")["count"].sum() if not spec.empty else pd.Series(dtype=int)
         ).reindex(regions).fillna(0).astype(int)
    bottom = np.zeros(len(regions))
    if not spec.empty:
        common = (spec[spec["region"] == "all"].nlargest(top, "fraction")["shell"].tolist()
                  or spec["shell"].unique()[:top].tolist())
        piv = spec.pivot_table(index="region", columns="shell", values="fraction",
                               aggfunc="sum").reindex(regions).fillna(0.0)
        for i, s in enumerate(common):
            v = piv[s].to_numpy() if s in piv else np.zeros(len(regions))
            ax.bar(x, v, bottom=bottom, label=s, color=f"C{i}")
            bottom += v
        rest = np.where(n.to_numpy() > 0, 1.0 - bottom, 0.0)
        ax.bar(x, rest, bottom=bottom, label="other", color="lightgrey")
    for xi, cnt in zip(x, n.to_numpy(), strict=True):
        if cnt == 0:
            ax.bar(xi, 1.0, fill=False, ls="--", edgecolor="0.6")
        ax.text(xi, 1.02, f"n = {cnt}" if cnt else "no ions", ha="center", fontsize=7)
    ax.set_xticks(x, regions)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def density_label(column: str) -> str:
    """Readable legend name of a density column (``rho_DME_coord_nm-3`` -> ``DME (coordinating
    atoms)``)."""
    name = column.removeprefix("rho_").removesuffix("_nm-3")
    return name.replace("_coord", " (coordinating atoms)")


def plot_density(dens: pd.DataFrame) -> Figure:
    """Number-density profiles (first column is the coordinate).

    The electrolyte species share the left axis; the electrode, whose sheet peaks reach
    ~1000 nm^-3 and would flatten them, is drawn grey on a right axis of its own.
    """
    fig, ax = _fig(6.0, 3.8)
    xcol = dens.columns[0]
    handles = []
    electrode = [c for c in dens.columns[1:] if c.startswith("rho_electrode")]
    for c in dens.columns[1:]:
        if c not in electrode:
            handles += ax.plot(dens[xcol], dens[c], label=density_label(c))
    ax.set_xlabel(xcol.replace("_nm", " (nm)"))
    ax.set_ylabel("electrolyte number density (nm$^{-3}$)")
    if electrode:
        right = ax.twinx()
        for c in electrode:
            handles += right.plot(dens[xcol], dens[c], color="0.6", lw=0.8, ls="--",
                                  label=f"{density_label(c)} (right axis)")
        right.set_ylabel("electrode number density (nm$^{-3}$)", color="0.4")
        right.tick_params(axis="y", colors="0.4")
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18),
              ncol=min(3, max(1, len(handles))), frameon=False)
    return fig


def plot_msd(msd: pd.DataFrame, diffusion: pd.DataFrame | None = None,
             species_col: str = "species") -> Figure:
    """MSD vs lag, one panel per species and one curve per region.

    With ``diffusion`` (columns ``region``, ``fit_start_ps``, ``fit_end_ps``, ``D_3d_m2_s``,
    ``D_2d_m2_s``, optionally ``species``) the fit window is shaded and D is in the legend
    (3D in bulk regions, 2D, in-plane, inside the slit).
    """
    species = list(dict.fromkeys(msd[species_col])) if species_col in msd else [None]
    fig = Figure(figsize=(5.0, 2.6 * len(species) + 0.4))
    axes = np.atleast_1d(fig.subplots(len(species), 1, squeeze=False)[:, 0])
    for ax, sp in zip(axes, species, strict=True):
        part = msd if sp is None else msd[msd[species_col] == sp]
        for i, (reg, d) in enumerate(part.groupby("region", sort=False)):
            d = d[d["n_samples"] > 0]
            ax.plot(d["lag_ps"], d["msd_3d_nm2"], color=f"C{i}",
                    label=f"{reg}{_d_text(diffusion, sp, str(reg), species_col)}")
        _shade_fit(ax, diffusion, sp, species_col)
        ax.set_ylabel("MSD (nm$^2$)")
        ax.set_title(str(sp) if sp is not None else "", fontsize=8)
        ax.ticklabel_format(axis="both", style="plain")
        ax.legend(fontsize=7)
    axes[-1].set_xlabel("lag (ps)")
    fig.subplots_adjust(hspace=0.4)
    return fig


def _diff_rows(diffusion: pd.DataFrame | None, sp: object, species_col: str) -> pd.DataFrame:
    if diffusion is None or diffusion.empty:
        return pd.DataFrame()
    if sp is not None and species_col in diffusion:
        return diffusion[diffusion[species_col] == sp]
    return diffusion


def _d_text(diffusion: pd.DataFrame | None, sp: object, region: str, species_col: str) -> str:
    rows = _diff_rows(diffusion, sp, species_col)
    if rows.empty or region not in set(rows["region"]):
        return ""
    row = rows[rows["region"] == region].iloc[0]
    col, tag = ("D_2d_m2_s", "2D") if region == "inside" else ("D_3d_m2_s", "3D")
    v = float(row.get(col, np.nan))
    return f": D$_{{{tag}}}$ = {v:.2e} m$^2$/s" if np.isfinite(v) else ": D not fitted"


def _shade_fit(ax, diffusion: pd.DataFrame | None, sp: object, species_col: str) -> None:
    rows = _diff_rows(diffusion, sp, species_col)
    if rows.empty:
        return
    lo, hi = float(rows["fit_start_ps"].min()), float(rows["fit_end_ps"].max())
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        ax.axvspan(lo, hi, color="0.92", zorder=0, label="fit window")


def plot_residence(acf: pd.DataFrame, taus: pd.DataFrame | None = None) -> Figure:
    """Shell correlation functions C(t) per kind and region, with the 1/e line labelled.

    With ``taus`` (columns ``region``, ``kind``, ``tau_ps``) each legend entry gives τ, or
    says that C(t) did not fall below 1/e within the longest lag.
    """
    fig, ax = _fig(5.5, 3.8)
    for (reg, k), d in acf.groupby(["region", "kind"], sort=False):
        if not d["C"].notna().any():
            continue
        label = f"{k} / {reg}"
        if taus is not None and not taus.empty:
            t = taus[(taus["region"] == reg) & (taus["kind"] == k)]["tau_ps"]
            tau = float(t.iloc[0]) if len(t) else np.nan
            label += (f": τ = {tau:.3g} ps" if np.isfinite(tau)
                      else f": τ not reached (> {d['lag_ps'].max():.3g} ps)")
        ax.plot(d["lag_ps"], d["C"], label=label)
    ax.axhline(1 / np.e, color="grey", ls=":", lw=1, label="C = 1/e (defines τ)")
    ax.set_xlabel("lag (ps)")
    ax.set_ylabel("C(t)")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    return fig


def plot_tracked(series: pd.DataFrame, events: pd.DataFrame, kinds: list[str]) -> Figure:
    """Insertion coordinate and CN of the tracked ion vs time; mouth crossings marked."""
    fig = Figure(figsize=(6.0, 5.0))
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    t = series["time_ps"]
    if series["insertion_nm"].notna().any():
        ax1.plot(t, series["insertion_nm"], "k-")
        ax1.axhline(0.0, color="grey", ls=":")
        ax1.set_ylabel("insertion coord. (nm)")
    else:
        ax1.plot(t, series["x_nm"], label="x")
        ax1.plot(t, series["z_nm"], label="z")
        ax1.set_ylabel("position (nm)")
        ax1.legend(fontsize=8)
    for k in kinds:
        ax2.step(t, series[f"cn_{k}"], where="mid", label=f"CN {k}")
    for _, e in events[events["event"].isin(["enter", "exit"])].iterrows():
        for ax in (ax1, ax2):
            ax.axvline(e["time_ps"], color="red" if e["event"] == "enter" else "blue",
                       lw=0.8, ls="--")
    ax2.set_xlabel("time (ps)")
    ax2.set_ylabel("coordinating atoms")
    ax2.legend(fontsize=8)
    ion = series.attrs.get("atom_index")
    if ion is not None:
        ax1.set_title(f"tracked ion (atom {ion})")
    return fig
