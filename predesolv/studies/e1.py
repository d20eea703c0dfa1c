"""E1: Na+ solvation in DME — an anion-free box at the AIMD's Na:DME ratio beside 1 M
NaPF6/DME; CN(Na–O), DME per Na+, denticity, Na–O peak, with block errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import predesolv

from .common import config_folder, configs, run_config, run_speed
from .result import (
    STUDY_FILE,
    Quantity,
    RunRecord,
    Seed,
    StudyResult,
    WhatWasRun,
    numbers_from_rows,
)

#: The AIMD result the study is compared with (Ren et al. 2026, E1 in docs/science.md).
AIMD = {"CN_NaO": 6.0, "DME_per_Na": 3.0, "bidentate_fraction": 1.0,
        "source": "Ren et al., Nano-Micro Lett. 18:382 (2026): AIMD of 2 Na+ in 18 DME, "
                  "Na+(DME)3 with six Na-O (octahedral)"}
N_BLOCKS = 5
NOTE = ("anion-free boxes carry the net charge of their cations (0.8-scaled); PME offsets it "
        "with a uniform neutralising background. Errors: standard error of "
        f"{N_BLOCKS} block means of the production trajectory; they do not include shell "
        "exchange slower than a block.")


def block_mean(series: np.ndarray, n_blocks: int = N_BLOCKS) -> tuple[float, float]:
    """Mean and standard error of the means of ``n_blocks`` contiguous blocks (fewer when the
    series is shorter); the error is NaN with a single block."""
    x = np.asarray(series, dtype=float)
    blocks = [b for b in np.array_split(x, min(n_blocks, len(x))) if len(b)]
    means = np.array([b.mean() for b in blocks])
    sem = float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("nan")
    return float(x.mean()), sem


def metrics(name: str, run_dir: Path, files: dict[str, Path]) -> dict[str, Any]:
    """E1 numbers of one analysed run (per-frame averages over the ions, then blocks)."""
    per = pd.read_csv(files["coordination_per_frame.csv"])
    frames = per.groupby("frame")
    out: dict[str, Any] = {"system": name}
    meta = json.loads((run_dir / "metadata.json").read_text())
    comp = meta.get("composition", {})
    out.update({"n_Na": int(per["ion"].nunique()), "n_DME": comp.get("n_solvent", {}).get("DME"),
                "anion_free": bool(comp.get("anion_free", False)),
                "net_charge_e": comp.get("net_charge_e", 0.0)})
    summary = json.loads(files["summary.json"].read_text())
    out["frames"] = int(per["frame"].nunique())
    out["production_ps"] = out["frames"] * float(summary["dt_ps"])
    for key, col in (("CN_NaO", "cn_DME"), ("DME_per_Na", "nmol_DME")):
        out[key], out[f"{key}_sem"] = block_mean(frames[col].mean().to_numpy())
    bi = frames["nbidentate_DME"].sum() / frames["nmol_DME"].sum().replace(0, np.nan)
    out["bidentate_fraction"], out["bidentate_fraction_sem"] = block_mean(bi.to_numpy())
    if "nmol_PF6" in per:
        out["PF6_per_Na"], out["PF6_per_Na_sem"] = block_mean(frames["nmol_PF6"].mean().to_numpy())
    spec = pd.read_csv(files["speciation.csv"])
    top = spec[(spec["region"] == "all") & (spec["shell"] == "Na(DME)3")]["fraction"]
    out["NaDME3_fraction"] = float(top.iloc[0]) if len(top) else 0.0
    tau = pd.read_csv(files["residence_times.csv"])
    tau = tau[(tau["region"] == "all") & (tau["kind"] == "DME")]
    acf = pd.read_csv(files["residence_acf.csv"])
    out["DME_residence_ps"] = float(tau["tau_ps"].iloc[0]) if len(tau) else float("nan")
    out["residence_max_lag_ps"] = float(acf["lag_ps"].max())
    rdf = pd.read_csv(files["rdf.csv"])
    dme = rdf[rdf["kind"] == "DME"]
    out["NaO_peak_nm"] = float(dme.loc[dme["g"].idxmax(), "r_nm"])
    out["NaO_cutoff_nm"] = summary.get("cutoffs_nm", {}).get("DME")
    return out


def run_e1(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Run and analyse every config of ``folder``; write ``e1_table.csv`` and the study's
    summary (:class:`~predesolv.studies.result.StudyResult`)."""
    rows, runs = [], []
    for path in configs(folder, opts.get("configs")):
        run_dir = run_config(path, out / path.stem, opts)
        files = predesolv.analyze(run_dir, "rdf,coordination,speciation,residence")
        rows.append(metrics(path.stem, run_dir, files))
        runs.append(RunRecord(name=path.stem, production_ps=rows[-1]["production_ps"],
                              **run_speed([run_dir])))
    table = out / "e1_table.csv"
    pd.DataFrame(rows).to_csv(table, index=False, float_format="%.6g")
    seed = Seed(source=AIMD["source"], numbers=[
        Quantity(name=k, value=v, unit="1") for k, v in AIMD.items() if k != "source"])
    result = StudyResult.new(
        "E1", opts["size"], WhatWasRun.of(config_folder(folder), [r.name for r in runs], runs),
        seed=seed, numbers=numbers_from_rows("E1", rows), rows=rows, files=[table.name],
        note=NOTE)
    return {table.name: table, STUDY_FILE: result.write(out)}
