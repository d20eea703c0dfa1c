"""E5: 0 K Na+ migration barriers at d = 0.40-0.55 nm, default and fitted Na–C, AA and AB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from predesolv.config.barrier import BarrierScanConfig
from predesolv.config.loader import load_model
from predesolv.workflows.barrier_scan import run_barrier_scan
from predesolv.workflows.na_c_fit_plot import plot_fit

from .common import config_folder, configs
from .result import STUDY_FILE, RunRecord, Seed, StudyResult, Verdict, WhatWasRun, numbers_from_rows

SEED = "Ren et al., Nano-Micro Lett. 18:382 (2026), Fig. 4e (DFT, 0 K)"
#: A barrier within this much of the seed's (eV) counts as reproduced.
TOL_EV = 0.05


def run_e5(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Every barrier-scan config of ``folder`` (one per force-field variant, named by the
    file stem) into ``out/<stem>``; then ``e5_barriers.csv``, ``e5_barriers.png`` and the
    study's summary (rows beside the seed's DFT values, residuals, one verdict per force
    field and stacking: every barrier within :data:`TOL_EV` or not)."""
    rows: list[dict[str, Any]] = []
    runs: list[RunRecord] = []
    for path in configs(folder, opts.get("configs")):
        cfg = load_model(path, BarrierScanConfig)
        table = run_barrier_scan(cfg, out=out / path.stem, overwrite=True, progress=False)
        runs.append(RunRecord(name=path.stem, forcefield=table.forcefield))
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
    result = StudyResult.new(
        "E5", opts["size"], WhatWasRun.of(config_folder(folder), [r.name for r in runs], runs),
        seed=Seed(source=SEED), verdicts=within_verdicts(rows),
        numbers=numbers_from_rows("E5", rows), rows=rows, files=list(files))
    files[STUDY_FILE] = result.write(out)
    return files


def within_verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    """Per force field and stacking: are all its barriers within :data:`TOL_EV` of the
    seed's DFT barriers (``residual_eV``)?"""
    out = []
    for ff, st in dict.fromkeys((r["forcefield"], r["stacking"]) for r in rows):
        res = [r["residual_eV"] for r in rows if (r["forcefield"], r["stacking"]) == (ff, st)]
        n_ok = sum(abs(x) <= TOL_EV for x in res)
        out.append(Verdict(
            name=f"{ff} {st}", criterion=f"every barrier within {TOL_EV} eV of the seed's DFT "
                                         "barrier (Fig. 4e)",
            sentence=f"{ff} Na–C, {st}: {n_ok} of {len(res)} barriers within {TOL_EV} eV of "
                     f"the seed; largest deviation {max(res, key=abs):+.3f} eV.",
            ok=n_ok == len(res)))
    return out
