"""E7 at 300 K: free energy of Na⁺ against its Na–O(EC) coordination number next to pristine
and N-doped carbon edges in EC/DMC, and the stepwise desolvation free energies it gives.

Every config of a size is an ordinary ``predesolv pmf`` config: a steered pull brings
``cation[0]`` to the surface (or to a dopant site), umbrella windows on a coordination CV
(``partner: EC``) hold it there with a wall, MBAR gives F(CN). The study reads F at whole
coordination numbers and writes ΔG(n → n−1) = F(n−1) − F(n), the 300 K counterpart of the
0 K steps of ``predesolv study E7`` (Tang et al., eq. 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openmm import unit

import predesolv
from predesolv.constants import KJ_PER_MOL_PER_EV
from predesolv.workflows.pmfdir import PMFDir
from predesolv.workflows.umbrella import run_pmf

from .common import config_folder, configs, measured_speed
from .e7_shell import oxide_sentence, shell_rows
from .result import (
    STUDY_FILE,
    RunRecord,
    Seed,
    StudyResult,
    Verdict,
    WhatWasRun,
    numbers_from_rows,
)

SEED = ("Tang et al., Nano-Micro Lett. 18:161 (2026): DFT stepwise desolvation of "
        "Na+(EC)n on carbon; oxidised N (zigzag and armchair N-O) lowers the 3->2 step")
DEFINITION = ("F(CN) from MBAR along the Na-O(EC) coordination CV (rational switch, r0 in "
              "each config) with the ion held at the surface; dG(n->n-1) = F(n-1) - F(n), F "
              "read at whole CN by linear interpolation")

#: What the census is for (a diagnostic beside the verdict, not a seed criterion).
OXIDE_CRITERION = ("diagnostic: does the N-O oxygen take a place in the Na+ first shell, so "
                   "that a lower EC count next to the oxide is partly built in?")


def whole_number_free_energies(pmf: pd.DataFrame, column: str = "F_kJ_per_mol"
                               ) -> dict[int, float]:
    """F (kJ/mol) at every whole coordination number inside the sampled range of ``pmf``
    (linear interpolation between sampled bins; ``pmf`` columns ``cn``, ``F_kJ_per_mol``).
    With ``column="dF_kJ_per_mol"``: its bootstrap uncertainty, interpolated the same way
    (NaN where the estimate had no bootstrap)."""
    ok = pmf.dropna(subset=["F_kJ_per_mol"]).sort_values("cn")
    if ok.empty:
        return {}
    lo, hi = float(ok["cn"].min()), float(ok["cn"].max())
    return {n: float(np.interp(n, ok["cn"], ok[column].astype(float)))
            for n in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)}


def step_rows(surface: str, f_at: dict[int, float],
              sigma_at: dict[int, float] | None = None) -> list[dict[str, Any]]:
    """ΔG(n → n−1) = F(n−1) − F(n) for every step with both ends sampled, with
    σ = sqrt(σ(n−1)² + σ(n)²) from the bootstrap σ of F at each end (``sigma_at``; NaN
    without). Both F are relative to the same reference bin, so their errors are partly
    correlated and σ is an upper estimate."""
    sig = sigma_at or {}
    rows = []
    for n in sorted(f_at, reverse=True):
        if n - 1 not in f_at:
            continue
        dg = f_at[n - 1] - f_at[n]
        s = float(np.hypot(sig.get(n - 1, np.nan), sig.get(n, np.nan)))
        rows.append({"surface": surface, "step": f"{n}→{n - 1}", "n_from": n,
                     "dG_kJ_per_mol": dg, "dG_eV": dg / KJ_PER_MOL_PER_EV,
                     "sigma_kJ_per_mol": s, "sigma_eV": s / KJ_PER_MOL_PER_EV})
    return rows


def run_e7_300k(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Run every coordination-PMF config of ``folder`` into ``out/<stem>`` and write
    ``e7_300k_steps.csv``, ``e7_300k_pmf.csv``, ``e7_300k.png`` and the study's summary."""
    pmfs, rows, runs, shells = [], [], [], []
    for path in configs(folder, opts.get("configs")):
        cfg = predesolv.load_config(path)
        root = out / path.stem
        run_pmf(cfg, out=root, serial=opts["size"] == "smoke", platform=opts.get("platform"),
                overwrite=bool(opts.get("overwrite")))  # under the PMF's lock
        pmf = pd.read_csv(PMFDir(root).pmf_csv)
        pmfs.append(pmf.assign(surface=path.stem))
        assert cfg.pmf is not None
        speed, (shortest, longest) = measured_speed(root), _production_ps(cfg, root)
        runs.append(RunRecord(name=path.stem, n_windows=len(cfg.pmf.centers()),
                              production_ps=shortest, production_ps_max=longest,
                              platform=speed["platform"], threads=speed["threads"],
                              ns_per_day=speed["ns_per_day_median"]))
        rows += step_rows(path.stem, whole_number_free_energies(pmf),
                          whole_number_free_energies(pmf, "dF_kJ_per_mol"))
        shells += shell_rows(cfg, root, path.stem)
    files = {"e7_300k_steps.csv": out / "e7_300k_steps.csv",
             "e7_300k_pmf.csv": out / "e7_300k_pmf.csv", "e7_300k.png": out / "e7_300k.png",
             "e7_300k_shell.csv": out / "e7_300k_shell.csv"}
    pd.DataFrame(shells).to_csv(files["e7_300k_shell.csv"], index=False, float_format="%.6g")
    pd.DataFrame(rows, columns=["surface", "step", "n_from", "dG_kJ_per_mol", "dG_eV",
                                "sigma_kJ_per_mol", "sigma_eV"]).to_csv(
        files["e7_300k_steps.csv"], index=False, float_format="%.6g")
    allpmf = pd.concat(pmfs, ignore_index=True)
    allpmf.to_csv(files["e7_300k_pmf.csv"], index=False, float_format="%.6g")
    _plot(allpmf).savefig(files["e7_300k.png"], dpi=120, bbox_inches="tight")
    result = StudyResult.new(
        opts["study"], opts["size"],
        WhatWasRun.of(config_folder(folder), [r.name for r in runs], runs), seed=Seed(source=SEED),
        verdicts=[Verdict(name="three_to_two", criterion=SEED, sentence=three_to_two(rows)),
                  Verdict(name="oxide_in_shell", criterion=OXIDE_CRITERION,
                          sentence=oxide_sentence(shells))],
        numbers=numbers_from_rows("E7-300K", rows), rows=rows, files=list(files),
        definition=DEFINITION)
    files[STUDY_FILE] = result.write(out)
    return files


def _production_ps(cfg: Any, root: Path) -> tuple[float, float]:
    """Production sampled per window (ps), shortest and longest, from the frames each
    window contributed (``windows.csv``): a window extended with ``predesolv run --resume
    --extend`` shows up here, not in the config."""
    dt = float(cfg.pmf.sample_interval.value_in_unit(unit.picosecond))
    frames = pd.read_csv(PMFDir(root).windows_csv)["n_frames"].to_numpy(float)
    return float(frames.min() * dt), float(frames.max() * dt)


def three_to_two(rows: list[dict[str, Any]]) -> str:
    """One sentence: does an N-oxide surface lower the 3→2 step against the pristine one?

    "lower" (or "higher") only where the difference exceeds twice its combined uncertainty
    (the steps' ``sigma_eV``); "not distinguishable" within it; "no uncertainty" where no σ
    is known."""
    step = {r["surface"]: r for r in rows if r["n_from"] == 3}
    sentences = []
    for geometry in ("edge-on", "face-on"):
        here = {k: v for k, v in step.items() if (k.endswith("face_on")) == (geometry == "face-on")}
        if any(k.startswith("n_oxide") for k in here):
            sentences.append(_three_to_two_one_geometry(here, geometry))
    if not sentences:
        return ("3→2 step: needs a pristine and an n_oxide surface of the same geometry "
                f"(edge-on or face-on) with CN 2 and 3 sampled; have {sorted(step) or 'none'}")
    return " ".join(sentences)


def _three_to_two_one_geometry(step: dict[str, dict[str, Any]], geometry: str) -> str:
    """:func:`three_to_two` among the surfaces of one geometry (pristine against oxides of
    the same geometry only: an edge and a basal plane are not like-for-like)."""
    pristine = {k: v for k, v in step.items() if k.startswith("pristine")}
    oxides = {k: v for k, v in step.items() if k.startswith("n_oxide")}
    if not pristine:
        return (f"3→2 step ({geometry}): needs a pristine surface of this geometry with CN 2 "
                f"and 3 sampled; have {sorted(step)}.")
    ref_name, ref = next(iter(pristine.items()))
    parts = []
    for k, r in oxides.items():
        diff = r["dG_eV"] - ref["dG_eV"]
        sig = float(np.hypot(r.get("sigma_eV", np.nan), ref.get("sigma_eV", np.nan)))
        if np.isfinite(sig) and abs(diff) > 2 * sig:
            word = "lower" if diff < 0 else "higher"
        else:
            word = "not distinguishable: within 2σ" if np.isfinite(sig) else "no uncertainty"
        parts.append(f"{k} {_pm_ev(r)} eV ({word}; difference {diff:+.2f} eV)")
    return (f"3→2 step at 300 K ({geometry}): {ref_name} {_pm_ev(ref)} eV; "
            + "; ".join(parts) + ".")


def _pm_ev(row: dict[str, Any]) -> str:
    """``+0.05 ± 0.02`` (eV), without the ± where no σ is known."""
    sig = row.get("sigma_eV", np.nan)
    return f"{row['dG_eV']:+.2f}" + (f" ± {sig:.2f}" if np.isfinite(sig) else "")


def _plot(pmf: pd.DataFrame) -> Any:
    """F(CN) with its bootstrap σ, one line per surface."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.8, 3.8))
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, part) in enumerate(pmf.groupby("surface", sort=False)):
        ok = part.dropna(subset=["F_kJ_per_mol"])
        ax.errorbar(ok["cn"], ok["F_kJ_per_mol"], yerr=ok["dF_kJ_per_mol"].fillna(0),
                    marker=".", capsize=2, color=f"C{i}", label=str(name))
    ax.set_xlabel("Na–O(EC) coordination number")
    ax.set_ylabel("F (kJ/mol), 300 K")
    ax.legend(fontsize=7)
    return fig
