"""E5: 0 K Na+ migration barriers at d = 0.40-0.55 nm, default and fitted Na–C, AA and AB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import configs, write_json


def run_e5(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Every barrier-scan config of ``folder`` (one per force-field variant, named by the
    file stem) into ``out/<stem>``; then ``e5_barriers.csv``, ``e5_barriers.png`` and
    ``study.json`` (rows beside the seed's DFT values, residuals, which rows are within
    0.05 eV)."""
    import pandas as pd

    from predesolv.config.barrier import BarrierScanConfig
    from predesolv.config.loader import load_model
    from predesolv.freeenergy.barrier_scan import run_barrier_scan
    from predesolv.freeenergy.na_c_fit_plot import plot_fit

    rows: list[dict[str, Any]] = []
    forcefields: dict[str, Any] = {}
    for path in configs(folder):
        cfg = load_model(path, BarrierScanConfig)
        table = run_barrier_scan(cfg, out=out / path.stem, overwrite=True, progress=False)
        forcefields[path.stem] = table.forcefield
        for r in table.rows():
            rows.append({"forcefield": path.stem, "stacking": r["stacking"],
                         "spacing_nm": r["spacing_nm"], "barrier_eV": r["barrier_eV"],
                         "seed_barrier_eV": r["seed_barrier_eV"],
                         "residual_eV": r["barrier_eV"] - r["seed_barrier_eV"],
                         "site_height_nm": r["site_height_nm"],
                         "openmm_check_kJ_per_mol": r["openmm_check_kJ_per_mol"]})
    files = {"e5_barriers.csv": out / "e5_barriers.csv", "e5_barriers.png": out / "e5_barriers.png"}
    pd.DataFrame(rows).to_csv(files["e5_barriers.csv"], index=False, float_format="%.6g")
    plot_fit(rows).savefig(files["e5_barriers.png"], dpi=120, bbox_inches="tight")
    within = {f"{ff} {st}": all(abs(r["residual_eV"]) <= 0.05 for r in rows
                                if (r["forcefield"], r["stacking"]) == (ff, st))
              for ff, st in {(r["forcefield"], r["stacking"]) for r in rows}}
    files["study.json"] = write_json(out / "study.json", {
        "study": "E5", "size": opts["size"], "rows": rows, "forcefields": forcefields,
        "all_within_0.05_eV": within,
        "seed": "Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e (DFT, 0 K)"})
    return files
