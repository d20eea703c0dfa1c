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


def plot_rdf(rdf: pd.DataFrame, cutoffs_nm: dict[str, float] | None = None) -> Figure:
    """g(r) per kind (columns ``kind``, ``r_nm``, ``g``) with the cutoffs as dashed lines."""
    fig, ax = _fig()
    for i, (k, d) in enumerate(rdf.groupby("kind", sort=False)):
        line = ax.plot(d["r_nm"], d["g"], label=f"Na–{k}", color=f"C{i}")[0]
        if cutoffs_nm and np.isfinite(cutoffs_nm.get(k, np.nan)):
            ax.axvline(cutoffs_nm[k], ls="--", color=line.get_color(), lw=0.8)
    ax.set_xlabel("r (nm)")
    ax.set_ylabel("g(r)")
    ax.legend()
    return fig


def plot_profile(prof: pd.DataFrame, kinds: list[str]) -> Figure:
    """CN (atoms) per kind vs insertion coordinate, with the mouth at 0."""
    fig, ax = _fig()
    for k in kinds:
        ax.errorbar(prof["s_mid_nm"], prof[f"cn_{k}_mean"], yerr=prof[f"cn_{k}_sem"],
                    marker="o", ms=3, capsize=2, label=f"CN Na–{k}")
    ax.plot(prof["s_mid_nm"], prof["cn_total_mean"], "k-", lw=1, label="total")
    ax.axvline(0.0, color="grey", ls=":", lw=1)
    ax.set_xlabel("distance from mouth along insertion axis (nm)  [inside > 0]")
    ax.set_ylabel("coordination number")
    ax.legend(fontsize=8)
    return fig


def plot_speciation(spec: pd.DataFrame, top: int = 6) -> Figure:
    """Stacked bars of shell fractions per region (the ``top`` most common shells)."""
    fig, ax = _fig(6.0, 3.5)
    if spec.empty:
        return fig
    common = (spec[spec["region"] == "all"].nlargest(top, "fraction")["shell"].tolist()
              or spec["shell"].unique()[:top].tolist())
    regions = list(dict.fromkeys(spec["region"]))
    piv = spec.pivot_table(index="region", columns="shell", values="fraction",
                           aggfunc="sum").reindex(regions).fillna(0.0)
    bottom = np.zeros(len(regions))
    for i, s in enumerate(common):
        v = piv[s].to_numpy() if s in piv else np.zeros(len(regions))
        ax.bar(regions, v, bottom=bottom, label=s, color=f"C{i}")
        bottom += v
    ax.bar(regions, 1.0 - bottom, bottom=bottom, label="other", color="lightgrey")
    ax.set_ylabel("fraction of ion-frames")
    ax.set_ylim(0, 1)
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


def plot_msd(msd: pd.DataFrame, species_col: str = "species") -> Figure:
    """MSD (3D) vs lag per species and region, log–log."""
    fig, ax = _fig()
    keys = [species_col, "region"] if species_col in msd else ["region"]
    for key, d in msd.groupby(keys, sort=False):
        lab = " / ".join(map(str, key if isinstance(key, tuple) else (key,)))
        ok = d["n_samples"] > 0
        ax.loglog(d["lag_ps"][ok], d["msd_3d_nm2"][ok], label=lab)
    ax.set_xlabel("lag (ps)")
    ax.set_ylabel("MSD (nm$^2$)")
    ax.legend(fontsize=7)
    return fig


def plot_residence(acf: pd.DataFrame) -> Figure:
    """Shell correlation functions C(t) per kind and region."""
    fig, ax = _fig()
    for (reg, k), d in acf.groupby(["region", "kind"], sort=False):
        if d["C"].notna().any():
            ax.plot(d["lag_ps"], d["C"], label=f"{k} / {reg}")
    ax.axhline(1 / np.e, color="grey", ls=":", lw=1)
    ax.set_xlabel("lag (ps)")
    ax.set_ylabel("C(t)")
    ax.legend(fontsize=7)
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
