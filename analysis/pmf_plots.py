"""Figures of an umbrella-sampling PMF (:class:`predesolv.analysis.pmf.PMFResult`).

No pyplot state (safe headless); every function returns a :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from predesolv.analysis.pmf import PMFResult


def cv_label(cv_name: str, cv_unit: str) -> str:
    """Axis label of the CV: ``"x (nm)"``, or just the name for a dimensionless CV."""
    return f"{cv_name} ({cv_unit})" if cv_unit else cv_name


def plot_pmf(result: PMFResult, cv_name: str, cv_unit: str) -> Figure:
    """F (kJ/mol, left axis; kT on the right axis) with the ±dF bootstrap band and half-splits."""
    fig = Figure(figsize=(5.5, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    x, F, dF = result.bin_centers, result.F_kJ_per_mol, result.dF_kJ_per_mol
    ax.plot(x, F, "k-", lw=1.5, label="MBAR")
    if np.isfinite(dF).any():
        ax.fill_between(x, F - dF, F + dF, color="C0", alpha=0.35, lw=0,
                        label=f"±1σ bootstrap (n={result.n_bootstraps})")
    ax.plot(x, result.F_first_half_kJ_per_mol, "--", color="C1", lw=0.9, label="first half")
    ax.plot(x, result.F_second_half_kJ_per_mol, ":", color="C2", lw=0.9, label="second half")
    ax.set_xlabel(cv_label(cv_name, cv_unit))
    ax.set_ylabel("F (kJ/mol)")
    kT = result.kT_kJ_per_mol
    def to_kT(f: Any) -> Any:
        return np.asarray(f) / kT

    def from_kT(t: Any) -> Any:
        return np.asarray(t) * kT

    right = ax.secondary_yaxis("right", functions=(to_kT, from_kT))
    right.set_ylabel(f"F (kT, T = {result.temperature_K:g} K)")
    ax.legend(fontsize=8)
    return fig


def plot_overlap(result: PMFResult) -> Figure:
    """MBAR overlap matrix (windows in input order), values printed for K <= 16."""
    O = result.overlap_matrix
    K = O.shape[0]
    fig = Figure(figsize=(4.5 + 0.15 * K, 4.0 + 0.15 * K))
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(O, cmap="viridis", vmin=0.0, vmax=max(float(O.max()), 1e-12),
                   origin="upper")
    fig.colorbar(im, ax=ax, label="overlap (dimensionless)")
    if K <= 16:
        for i in range(K):
            for j in range(K):
                ax.text(j, i, f"{O[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="w" if O[i, j] < 0.5 * O.max() else "k")
    ax.set_xlabel("window")
    ax.set_ylabel("window")
    ax.set_title("MBAR overlap matrix")
    return fig


def plot_histograms(result: PMFResult, cv_name: str, cv_unit: str) -> Figure:
    """Per-window histograms of the analysed (decorrelated) samples, with bias centres."""
    fig = Figure(figsize=(6.0, 3.5))
    ax = fig.add_subplot(1, 1, 1)
    edges = result.bin_edges
    for i, (c, w) in enumerate(zip(result.counts, result.windows, strict=True)):
        color = f"C{i % 10}"
        ax.stairs(c, edges, color=color, lw=0.9)
        ax.axvline(w.center, color=color, lw=0.5, ls=":")
    ax.set_xlabel(cv_label(cv_name, cv_unit))
    ax.set_ylabel("samples per bin (count)")
    ax.set_title("umbrella windows (dotted: bias centres)")
    return fig
