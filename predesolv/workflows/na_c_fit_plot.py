"""Figure of ``predesolv fit-na-c``: barriers vs spacing, seed beside default and fitted."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure


def plot_fit(rows: list[dict[str, Any]]) -> Figure:
    """Barrier (eV) vs spacing (nm): the seed's DFT values and every force field × stacking
    of ``rows`` (from :func:`predesolv.workflows.na_c_fit.verify`)."""
    fig = Figure(figsize=(5.0, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    seed = sorted({(r["spacing_nm"], r["seed_barrier_eV"]) for r in rows})
    ax.plot([s for s, _ in seed], [b for _, b in seed], "ks", ms=7, label="DFT (Ren et al. 2026)")
    styles = {"default": "--", "fitted": "-"}
    for i, key in enumerate(sorted({(r["forcefield"], r["stacking"]) for r in rows})):
        pts = sorted((r["spacing_nm"], r["barrier_eV"]) for r in rows
                     if (r["forcefield"], r["stacking"]) == key)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], styles.get(key[0], "-"), marker="o",
                ms=4, color=f"C{i}", label=f"{key[0]} Na–C, {key[1]}")
    ax.set_xlabel("interlayer spacing d (nm)")
    ax.set_ylabel("0 K migration barrier (eV)")
    ax.legend(fontsize=7)
    return fig
