"""E6: co-intercalation free energies between slit spacings, as potential differences.

Ren et al. (2026) report an average potential of 0.25 V for the co-intercalation of Na⁺ with
one DME into the 0.6 nm slit (their Eq. 3, from PBE-D3 total energies of the charged
electrode). A fixed-charge force field cannot give that number: the electrode's charge is
imposed, not found, so an absolute electrode potential is not defined by the model. What it
can give is *relative*: the difference of the insertion free energies ΔF_ins(d) =
F(inside) − F(reservoir) of E2/E3 between two spacings, as the potential difference of a
one-electron process,

    ΔV(d1 → d2) = −[ΔF_ins(d2) − ΔF_ins(d1)] / F        (F = 96.485 kJ/mol/V),

positive when co-intercalation into d2 is the more favourable. The study reads the rows of
the E2/E3 studies of the same size from their output folders (siblings of this study's:
``<out>/../E2-<size>``), and writes a number only where both insertion free energies come
from converged two-CV surfaces (every window connected, halves and replicas agree, the path
joining both ends); a one-CV row keeps the shell its pull brought and gives none.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from predesolv.config.base import StrictModel
from predesolv.constants import FARADAY_KJ_PER_MOL_PER_V
from predesolv.errors import ConfigError

from .common import config_folder, configs, load_study_config
from .insertion import config_pmf, insertion_beside, insertion_sigma
from .result import STUDY_FILE, Seed, StudyResult, Verdict, WhatWasRun, numbers_from_rows

SEED = ("Ren et al., Nano-Micro Lett. 18:382 (2026): 'The average potential determined for "
        "this co-intercalation process is 0.25 V' (0.6 nm slit, PBE-D3 total energies, Eq. "
        "3). An absolute potential; the classical model gives differences between spacings "
        "only, so the 0.25 V is not compared.")


class E6State(StrictModel):
    """One insertion result: the study (E2 or E3) and its config (a row of its summary)."""

    study: Literal["E2", "E3"]
    config: str


class E6Config(StrictModel):
    """The insertion results to compare, in order of spacing."""

    states: list[E6State] = Field(..., min_length=2)


def insertion_state(out: Path, size: str, state: E6State) -> dict[str, Any]:
    """ΔF_ins of one insertion row with its σ (the mean bootstrap error of the inside and
    the reservoir bins, combined: the bins are correlated, so this does not shrink with
    their number) and whether it can carry a potential difference.

    Raises
    ------
    ConfigError
        The source study has not been run at this size next to ``out``, or has no such row.
    """
    src, rows = insertion_beside(out, state.study, size)
    if not StudyResult.file_in(src).is_file():
        raise ConfigError(f"E6 reads study {state.study} ({size}) from {src}, which holds no "
                          f"{STUDY_FILE}: run `predesolv study {state.study} --size {size} "
                          f"--out {src}` first", "states")
    if state.config not in rows:
        raise ConfigError(f"study {state.study} ({size}) has no config {state.config!r}; it has "
                          f"{sorted(rows)}", "states")
    row = rows[state.config]
    sigma = insertion_sigma(config_pmf(src, state.config))
    value = row.get("dF_inside_kJ_per_mol")
    dF = float(value) if isinstance(value, int | float) else np.nan
    why = ("one CV: its windows keep the shell the pull brought"
           if "surface_converged" not in row else
           "its two-CV surface is not converged" if not row["surface_converged"] else
           "inside or reservoir not sampled" if not np.isfinite(dF) else "")
    return {"state": f"{state.study}/{state.config}", "spacing_nm": row["spacing_nm"],
            "dF_ins_kJ_per_mol": dF,
            "sigma_kJ_per_mol": sigma, "usable": not why,
            "why_not": why}


def potential_rows(states: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ΔV for every pair of states (in the order given), with σ and a sentence; a number
    only where both states are usable."""
    rows = []
    for a, b in itertools.combinations(states, 2):
        ok = a["usable"] and b["usable"]
        ddf = b["dF_ins_kJ_per_mol"] - a["dF_ins_kJ_per_mol"]
        dv = -ddf / FARADAY_KJ_PER_MOL_PER_V
        sig = float(np.hypot(a["sigma_kJ_per_mol"], b["sigma_kJ_per_mol"])
                    ) / FARADAY_KJ_PER_MOL_PER_V
        name = f"{a['spacing_nm']:.1f} → {b['spacing_nm']:.1f} nm"
        if ok:
            text = (f"{name}: ΔV = {dv:+.3f} ± {sig:.3f} V (ΔF_ins {a['dF_ins_kJ_per_mol']:+.1f}"
                    f" → {b['dF_ins_kJ_per_mol']:+.1f} kJ/mol); relative only: a fixed-charge "
                    f"model gives no absolute electrode potential.")
        else:
            why = "; ".join(f"{s['state']}: {s['why_not']}" for s in (a, b) if not s["usable"])
            text = f"{name}: no potential difference ({why})."
        rows.append({"from": a["state"], "to": b["state"], "pair": name,
                     "ddF_kJ_per_mol": ddf if ok else np.nan, "dV_V": dv if ok else np.nan,
                     "sigma_V": sig if ok else np.nan, "usable": ok, "sentence": text})
    return rows


def run_e6(folder: Path, out: Path, opts: dict[str, Any]) -> dict[str, Path]:
    """Read the insertion results named in ``folder``'s config and write ``e6_states.csv``,
    ``e6_potentials.csv`` and the study's summary into ``out``."""
    (path,) = configs(folder)
    cfg = load_study_config(path, E6Config, "an E6")
    states = [insertion_state(out, opts["size"], s) for s in cfg.states]
    pairs = potential_rows(states)
    out.mkdir(parents=True, exist_ok=True)
    files = {"e6_states.csv": out / "e6_states.csv", "e6_potentials.csv": out / "e6_potentials.csv"}
    pd.DataFrame(states).to_csv(files["e6_states.csv"], index=False, float_format="%.6g")
    pd.DataFrame(pairs).to_csv(files["e6_potentials.csv"], index=False, float_format="%.6g")
    result = StudyResult.new(
        opts["study"], opts["size"], WhatWasRun.of(config_folder(folder), [path.stem], []),
        seed=Seed(source=SEED),
        verdicts=[Verdict(name=p["pair"], sentence=p["sentence"]) for p in pairs],
        numbers=numbers_from_rows("E6", pairs), rows=pairs, files=list(files))
    files[STUDY_FILE] = result.write(out)
    return files
