"""Files and the printed table of ``predesolv barrier-scan``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from predesolv.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text


def format_table(table: Any) -> str:
    """The table printed to stdout: barrier beside the seed's value, with the force field."""
    ff = table.forcefield
    lines = [
        f"0 K migration barrier of a bare Na+ between rigid graphene walls "
        f"(force field: Na-C LJ sigma {ff['na_c_sigma_nm']:.4f} nm, epsilon "
        f"{ff['na_c_epsilon_kJ_per_mol']:.4f} kJ/mol, {ff['combining_rule']} rule, cutoff "
        f"{ff['nonbonded_cutoff_nm']:g} nm; {ff['edge_orientation']} orientation, "
        f"{ff['layers_per_wall']} sheet(s) per wall)",
        f"{'d (nm)':>7} {'stacking':>8} {'barrier (eV)':>13} {'paper DFT (eV)':>14} "
        f"{'site h (nm)':>12} {'saddle h (nm)':>14}",
    ]
    for r in table.rows():
        seed = "" if r["seed_barrier_eV"] != r["seed_barrier_eV"] else f"{r['seed_barrier_eV']:.2f}"
        lines.append(f"{r['spacing_nm']:>7.3f} {r['stacking']:>8} {r['barrier_eV']:>13.4f} "
                     f"{seed:>14} {r['site_height_nm']:>12.4f} {r['saddle_height_nm']:>14.4f}")
    lines.append("paper DFT: Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e "
                 "(0.55 / 0.25 / ~0 / ~0 eV at 0.40 / 0.45 / 0.50 / 0.55 nm)")
    return "\n".join(lines)


def write_barrier_files(table: Any, folder: Path) -> dict[str, Path]:
    """``barriers.csv``, ``barriers.json`` (with the force field) and ``barriers.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = table.rows()
    df = pd.DataFrame(rows)
    files = {"barriers.csv": folder / "barriers.csv", "barriers.json": folder / "barriers.json",
             "barriers.png": folder / "barriers.png"}
    atomic_write_text(files["barriers.csv"], df.to_csv(index=False, float_format="%.6g"))
    clean = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
             for r in rows]
    atomic_write_json(files["barriers.json"], {
        "what": "0 K migration barrier of a bare Na+ between rigid graphene walls",
        "forcefield": table.forcefield, "barriers": clean,
        "seed": "Ren et al., Nano-Micro Lett. 18:382 (2026), doi 10.1007/s40820-026-02223-7, "
                "Fig. 4e"})
    atomic_write_bytes(files["barriers.png"], _plot(df))
    return files


def _plot(df: pd.DataFrame) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for st, g in df.groupby("stacking"):
        ax.plot(g["spacing_nm"], g["barrier_eV"], "o-", label=f"predesolv 0 K, {st}")
    seed = df.drop_duplicates("spacing_nm").dropna(subset=["seed_barrier_eV"])
    ax.plot(seed["spacing_nm"], seed["seed_barrier_eV"], "ks", mfc="none",
            label="DFT, Ren et al. 2026 (paper)")
    ax.set_xlabel("interlayer spacing d (nm)")
    ax.set_ylabel("migration barrier (eV)")
    ax.legend(frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    plt.close(fig)
    return buf.getvalue()
