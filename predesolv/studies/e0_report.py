"""E0's tables, verdicts and figure from the filling paths of every model
(:mod:`predesolv.studies.e0`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from predesolv.workflows.molecule_check import ConformerEnergies
from predesolv.workflows.pore_filling import FillStep, nucleation_barrier, square_law

from .result import Verdict

#: The progress file of an E0 run (resume).
PROGRESS_FILE = "e0_progress.jsonl"
#: Orifice spacings of Ren et al. Fig. 1d's favourable range (nm).
ORIFICE_RANGE_NM = (0.39, 0.70)
#: A lone Na adsorbed on graphite relative to bcc Na (eV): the DFT adsorption energy of one
#: Na at the hollow site, 0.51 eV below the free atom (Rytkönen, Akola, Manninen, Phys. Rev.
#: B 69, 205404 (2004)), against Na's measured cohesive energy, 1.113 eV/atom (Kittel,
#: Introduction to Solid State Physics, 8th ed., Table 3.1): 1.113 - 0.51 = +0.60 eV.
LONE_NA_REFERENCE_EV = 0.60

#: A barrier counts as lowered only when it falls by more than this (eV): each path is a
#: greedy choice among a few candidate sites, not a global search, so a smaller change is
#: not read as an effect (the same tolerance as E5's comparison with the seed).
LOWER_EV = 0.05

Paths = Mapping[str, Mapping[str, Sequence[FillStep]]]

QUOTES = {
    "barrier_vs_cavity": "the energy barrier for Na-cluster growth decreases as the nanocavity "
                         "size decreases (Ren et al., abstract)",
    "square_law": "the energy barriers can be correlated with cavity size in a square "
                  "relationship (Ren et al., Fig. 1c)",
    "orifice_intercalation": "the intercalation of Na into the orifice between 0.39 and 0.7 nm "
                             "is energetically favorable at V > 0 (Ren et al., Fig. 1d)",
    "orifice": "the energy barrier remains positive for the closed pore with a 0.5 nm orifice "
               "and a 1.82 nm cavity (Ren et al., Fig. 1b green line), lower than without "
               "the Na in the orifice (Fig. 1b)",
    "lone_na_check": "model check, not a seed claim: a lone Na on graphite lies about +0.60 eV "
                     "above bcc Na in DFT (0.51 eV adsorption, Rytkönen et al. 2004, against "
                     "the 1.113 eV cohesive energy); H(1) in the largest cavity within 0.3 eV",
    "cavity1": "linking the 1.2 nm cavity to the 1.82 nm cavity ... the energy barrier "
               "decreases to negative values (Ren et al., Fig. 1b orange line, S2e)",
}


def filling_rows(paths: Paths) -> list[dict[str, Any]]:
    """Every step of every path: model, path, then the step's fields (no positions)."""
    return [{"model": m, "path": key, **step.row()}
            for m, by_path in paths.items() for key, steps in by_path.items() for step in steps]


def _value_row(part: str, case: str, spacing: float | None, quantity: str, unit: str,
               values: Mapping[str, float], converged: bool, remark: str = "") -> dict[str, Any]:
    finite = [v for v in values.values() if np.isfinite(v)]
    return {"part": part, "case": case, "spacing_nm": spacing, "quantity": quantity,
            "unit": unit, **values,
            "spread": (max(finite) - min(finite)) if len(finite) > 1 else float("nan"),
            "all_converged": converged, "remark": remark}


def _cavity_rows(paths: Paths) -> list[dict[str, Any]]:
    models = list(paths)
    keys = [k for k in paths[models[0]] if k.startswith("cavity ") and "|" not in k]
    rows = []
    for key in keys:
        d = float(key.split()[1])
        steps = {m: paths[m][key] for m in models}
        conv = all(s.converged for st in steps.values() for s in st)
        bars = {m: nucleation_barrier([s.H_eV for s in st]) for m, st in steps.items()}
        remark = "; ".join(f"{m}: " + (f"H < 0 from n = {b.n_grow}" if b.n_grow
                                        else f"no H < 0 up to n = {len(steps[m])} (lower bound)")
                           for m, b in bars.items())
        case = f"bilayer cavity {d:.2f} nm"
        rows += [_value_row("filling", case, d, "barrier", "eV",
                            {m: b.value_eV for m, b in bars.items()}, conv, remark),
                 _value_row("filling", case, d, "peak_H", "eV",
                            {m: max(s.H_eV for s in st) for m, st in steps.items()}, conv),
                 _value_row("filling", case, d, "H_1", "eV",
                            {m: st[0].H_eV for m, st in steps.items()}, conv)]
    return rows


def _fit_rows(cavity_rows: list[dict[str, Any]], models: Sequence[str]) -> list[dict[str, Any]]:
    bars = [r for r in cavity_rows if r["quantity"] == "barrier"]
    d = [r["spacing_nm"] for r in bars]
    fits = {m: square_law(d, [r[m] for r in bars]) for m in models}
    conv = all(r["all_converged"] for r in bars)
    return [_value_row("fit", "barrier = a d^2 + c", None, q, unit,
                       {m: f[q] for m, f in fits.items()}, conv)
            for q, unit in (("a_eV_per_nm2", "eV/nm^2"), ("c_eV", "eV"), ("r2", "1"))]


def _intercalation_rows(paths: Paths) -> list[dict[str, Any]]:
    models = list(paths)
    rows = []
    for key in (k for k in paths[models[0]] if k.startswith("intercalation ")):
        d = float(key.split()[1])
        steps = {m: paths[m][key][0] for m in models}
        rows.append(_value_row("intercalation", f"one Na, {d:.3f} nm", d, "H", "eV",
                               {m: s.H_eV for m, s in steps.items()},
                               all(s.converged for s in steps.values())))
    return rows


def _stagewise_rows(paths: Paths, specs: Sequence[Any]) -> list[dict[str, Any]]:
    models = list(paths)
    rows = []
    for spec in specs:
        tag = f"{spec.narrow_name} {spec.narrow_nm:.3f} | cavity {spec.wide_nm:.3f}"
        case = (f"{spec.narrow_name} {spec.narrow_nm:.2f} nm + cavity {spec.wide_nm:.2f} nm "
                f"(stepped)")
        for which, label in (("empty", "cavity alone"), ("after prefill",
                                                          f"{spec.prefill} Na pre-filled")):
            steps = {m: paths[m][f"{tag} | {which}"] for m in models}
            conv = all(s.converged for st in steps.values() for s in st)
            n = max(len(st) for st in steps.values())
            rows.append(_value_row("stagewise", case, spec.wide_nm,
                                   f"peak_H, n <= {n} ({label})", "eV",
                                   {m: max(s.H_eV for s in st) for m, st in steps.items()},
                                   conv, spec.narrow_name))
        pre = {m: paths[m][f"{tag} | prefill"] for m in models}
        rows.append(_value_row("stagewise", case, spec.narrow_nm, "mean_H (pre-filling)", "eV",
                               {m: float(np.mean([s.H_eV for s in st])) for m, st in pre.items()},
                               all(s.converged for st in pre.values() for s in st),
                               spec.narrow_name))
    return rows


def summary_rows(paths: Paths, specs: Sequence[Any]) -> list[dict[str, Any]]:
    """The study's table: per cavity barrier, peak and first H; the square-law fit; the
    intercalation scan; the stage-wise pores. One column per model and their spread."""
    cav = _cavity_rows(paths)
    return [*cav, *_fit_rows(cav, list(paths)), *_intercalation_rows(paths),
            *_stagewise_rows(paths, specs)]


def _overall(name: str, per_model: Mapping[str, bool | None], details: str,
             converged: bool) -> Verdict:
    """One verdict from every model's answer: yes/no only when all models give it and every
    relaxation converged."""
    answers = set(per_model.values())
    if not converged:
        return Verdict(name=name, criterion=QUOTES[name], ok=None,
                       sentence=f"not converged (a relaxation did not reach fmax): {details}")
    if len(answers) == 1 and None not in answers:
        ok = answers.pop()
        head = "reproduced by every model" if ok else "not reproduced by any model"
        return Verdict(name=name, criterion=QUOTES[name], ok=ok, sentence=f"{head}: {details}")
    return Verdict(name=name, criterion=QUOTES[name], ok=None,
                   sentence=f"no verdict, the models disagree: {details}")


def _marked(bars: Sequence[Mapping[str, Any]], model: str) -> str:
    """The model's barriers, a lower bound (no H < 0 within n_max) written as ">=x"."""
    return "[" + ", ".join(
        (">=" if f"{model}: no H < 0" in r["remark"] else "") + f"{r[model]:.3f}"
        for r in bars) + "]"


def _pick(rows: Sequence[Mapping[str, Any]], part: str, quantity: str) -> list[Mapping[str, Any]]:
    return [r for r in rows if r["part"] == part and r["quantity"] == quantity]


def _barrier_verdicts(rows: Sequence[Mapping[str, Any]],
                      models: Sequence[str]) -> list[Verdict]:
    """Barrier vs cavity size (rank correlation) and the square-law fit, from >= 3 cavities."""
    bars = _pick(rows, "filling", "barrier")
    if len(bars) < 3:
        return []
    conv = all(r["all_converged"] for r in bars)
    d = pd.Series([r["spacing_nm"] for r in bars])
    flat = {m: len({r[m] for r in bars}) == 1 for m in models}
    rho = {m: float("nan") if flat[m] else
           float(d.corr(pd.Series([r[m] for r in bars]), method="spearman")) for m in models}
    # the same barrier at every size (none at all, typically): nothing decreases
    answer = {m: (False if flat[m] else True if rho[m] >= 0.6 else False if rho[m] <= 0
                  else None) for m in models}
    out = [_overall("barrier_vs_cavity", answer, "; ".join(
        f"{m}: barriers {_marked(bars, m)} eV at {list(d)} nm, "
        + ("the same at every size" if flat[m] else f"rank correlation with size {rho[m]:+.2f}")
        for m in models), conv)]
    fit = {r["quantity"]: r for r in rows if r["part"] == "fit"}
    if fit:
        out.append(_overall(
            "square_law", {m: bool(fit["r2"][m] >= 0.8 and fit["a_eV_per_nm2"][m] > 0)
                           for m in models},
            "; ".join(f"{m}: a = {fit['a_eV_per_nm2'][m]:.3f} eV/nm², R² = {fit['r2'][m]:.2f}"
                      for m in models), conv))
    return out


def verdicts(rows: Sequence[Mapping[str, Any]], models: Sequence[str],
             specs: Sequence[Any]) -> list[Verdict]:
    """The seed's statements tested on the numbers (:data:`QUOTES`)."""
    out = _barrier_verdicts(rows, models)
    lo, hi = ORIFICE_RANGE_NM
    inter = [r for r in _pick(rows, "intercalation", "H") if lo <= r["spacing_nm"] <= hi + 1e-9]
    if inter:
        out.append(_overall(
            "orifice_intercalation", {m: all(r[m] < 0 for r in inter) for m in models},
            "; ".join(f"{m}: H = {[round(r[m], 3) for r in inter]} eV at "
                      f"{[r['spacing_nm'] for r in inter]} nm" for m in models),
            all(r["all_converged"] for r in inter)))
    out += _stagewise_verdicts(rows, models, specs)
    h1 = _pick(rows, "filling", "H_1")
    if h1:
        big = max(h1, key=lambda r: r["spacing_nm"])
        out.append(_overall(
            "lone_na_check", {m: abs(big[m] - LONE_NA_REFERENCE_EV) <= 0.3 for m in models},
            "; ".join(f"{m}: H(1) = {big[m]:+.3f} eV" for m in models)
            + f" in the {big['spacing_nm']:.2f} nm cavity (DFT-based: "
              f"+{LONE_NA_REFERENCE_EV:.2f})", bool(big["all_converged"])))
    return out


def _stagewise_verdicts(rows: Sequence[Mapping[str, Any]], models: Sequence[str],
                        specs: Sequence[Any]) -> list[Verdict]:
    out = []
    for spec in specs:
        mine = [r for r in rows if r["part"] == "stagewise" and r["remark"] == spec.narrow_name]
        empty = next(r for r in mine if r["quantity"].endswith("(cavity alone)"))
        after = next(r for r in mine if "pre-filled" in r["quantity"])
        if spec.narrow_name == "orifice":  # stays positive, lowered by more than the noise
            per = {m: bool(0 < after[m] < empty[m] - LOWER_EV) for m in models}
        else:
            per = {m: bool(after[m] < 0) for m in models}
        details = "; ".join(f"{m}: peak H {empty[m]:.3f} eV alone, {after[m]:.3f} eV with "
                            f"{spec.prefill} Na in the {spec.narrow_name} (change "
                            f"{after[m] - empty[m]:+.3f} eV)" for m in models)
        details += (f" [{empty['quantity'].split(' (')[0]}; a change counts as lowering "
                    f"only beyond {LOWER_EV} eV]")
        out.append(_overall(spec.narrow_name, per, details,
                            bool(empty["all_converged"] and after["all_converged"])))
    return out


#: An MLIP describes DME when every conformer energy is within this of GFN2-xTB (eV).
DME_TOL_EV = 0.05


def molecule_rows(dme: ConformerEnergies) -> list[dict[str, Any]]:
    """One row per DME conformer: ΔE (eV, vs ttt) from each MLIP and GFN2-xTB."""
    models = [m for m in dme.relative_eV if m != "gfn2-xtb"]
    return [_value_row("molecule", f"DME {name}", None, "dE_vs_ttt", "eV",
                       {m: dme.relative_eV[m][i] for m in models}, True,
                       f"GFN2-xTB {dme.relative_eV['gfn2-xtb'][i]:+.3f}")
            for i, name in enumerate(dme.conformers)]


def molecule_verdict(dme: ConformerEnergies, models: Sequence[str]) -> Verdict:
    """Does each MLIP give DME's conformer energies within :data:`DME_TOL_EV` of xTB?"""
    err = {m: dme.max_error_eV(m) for m in models}
    names = ", ".join(dme.conformers)
    return Verdict(
        name="dme_check", criterion=f"model check: DME conformer energies ({names}, xTB "
        f"geometries, dihedrals held) within {DME_TOL_EV} eV of GFN2-xTB",
        ok=all(e <= DME_TOL_EV for e in err.values()),
        sentence="; ".join(f"{m}: largest deviation {e:.3f} eV" for m, e in err.items())
        + ". Na⁺–DME binding cannot be asked: the MLIPs have no total charge, so the "
          "co-intercalation potential is not computed; E6 is reported for Na alone")


def plot(paths: Paths, rows: Sequence[Mapping[str, Any]]) -> Any:
    """H(n) per cavity (one panel per model), barrier vs cavity size, intercalation H vs
    spacing."""
    from matplotlib.figure import Figure

    models = list(paths)
    fig = Figure(figsize=(4.0 * (len(models) + 2), 3.6))
    for i, m in enumerate(models):
        ax = fig.add_subplot(1, len(models) + 2, i + 1)
        for key, steps in paths[m].items():
            if key.startswith("cavity ") and "|" not in key or "| after prefill" in key:
                ax.plot([s.n for s in steps], [s.H_eV for s in steps], marker="o", ms=3,
                        ls="--" if "|" in key else "-", label=key.replace(" | after prefill",
                                                                         " (pre-filled)"))
        ax.axhline(0, color="k", lw=0.6)
        ax.set(xlabel="Na atoms in the cavity, n", ylabel="H(n) (eV)", title=m)
        ax.legend(fontsize=6)
    ax_b = fig.add_subplot(1, len(models) + 2, len(models) + 1)
    ax_i = fig.add_subplot(1, len(models) + 2, len(models) + 2)
    for j, m in enumerate(models):
        bars = _pick(rows, "filling", "barrier")
        ax_b.plot([r["spacing_nm"] for r in bars], [r[m] for r in bars], "o", color=f"C{j}",
                  label=m)
        inter = _pick(rows, "intercalation", "H")
        ax_i.plot([r["spacing_nm"] for r in inter], [r[m] for r in inter], "o-",
                  color=f"C{j}", label=m)
    fit = {r["quantity"]: r for r in rows if r["part"] == "fit"}
    if fit and (bars := _pick(rows, "filling", "barrier")):
        grid = np.linspace(min(r["spacing_nm"] for r in bars), max(r["spacing_nm"] for r in bars))
        for j, m in enumerate(models):
            ax_b.plot(grid, fit["a_eV_per_nm2"][m] * grid ** 2 + fit["c_eV"][m], ":",
                      color=f"C{j}")
    ax_b.set(xlabel="cavity spacing (nm)", ylabel="nucleation barrier (eV)")
    ax_i.axhline(0, color="k", lw=0.6)
    ax_i.set(xlabel="interlayer spacing (nm)", ylabel="H, one Na (eV)")
    ax_b.legend(fontsize=7)
    ax_i.legend(fontsize=7)
    fig.tight_layout()
    return fig
