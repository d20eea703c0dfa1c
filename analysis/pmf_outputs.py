"""Files of an umbrella-sampling PMF analysis, every one written atomically (temp + os.replace).

``pmf.csv``         CV (``x_nm`` / ``cn``), F_kJ_per_mol, dF_kJ_per_mol, F_kT, F_eV per bin
``pmf.png``         PMF with the bootstrap band and the half-split PMFs, units on both axes
``overlap.png``     MBAR overlap matrix
``histograms.png``  per-window histograms of the analysed samples
``barriers.json``   ΔF between named states and min->max barriers (strict JSON, NaN -> null)
``windows.csv``     per window: centre, k, frames, g, N_eff, samples used, window F
``overlap.csv``     the overlap matrix (K x K)

With replicas (``pmf.replicas``) ``pmf.csv`` gains ``F_replica<r>_kJ_per_mol`` and
``replica_spread_kJ_per_mol``, ``dF`` and every sigma include the spread, and
``barriers.json`` lists each replica's value (:func:`with_replicas`).
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from predesolv.analysis.pmf import PMFResult, barriers
from predesolv.analysis.pmf_plots import plot_histograms, plot_overlap, plot_pmf
from predesolv.analysis.replicas import combine_replicas, replica_sigma
from predesolv.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from predesolv.constants import KJ_PER_MOL_PER_EV
from predesolv.errors import AnalysisError

PMF_CSV = "pmf.csv"  # the names are PMFDir's (predesolv.workflows.pmfdir); a test keeps
                    # them equal
PMF_PNG = "pmf.png"
OVERLAP_PNG = "overlap.png"
HISTOGRAMS_PNG = "histograms.png"
BARRIERS_JSON = "barriers.json"
WINDOWS_CSV = "windows.csv"
OVERLAP_CSV = "overlap.csv"

#: Units written for a dimensionless CV (no unit suffix in the column names).
DIMENSIONLESS = {"", "1", "dimensionless"}


def cv_column(cv_name: str, cv_unit: str) -> str:
    """CSV column of the CV: ``{name}_{unit}`` (``x_nm``), or ``name`` if dimensionless."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", cv_name or ""):
        raise AnalysisError(f"CV name must be an identifier (letters, digits, _), got "
                            f"{cv_name!r}")
    return cv_name if cv_unit in DIMENSIONLESS else f"{cv_name}_{cv_unit}"


def pmf_table(result: PMFResult, cv_name: str, cv_unit: str) -> pd.DataFrame:
    """The ``pmf.csv`` table, one row per bin (NaN where the bin has no samples)."""
    return pd.DataFrame({
        cv_column(cv_name, cv_unit): result.bin_centers,
        "F_kJ_per_mol": result.F_kJ_per_mol,
        "dF_kJ_per_mol": result.dF_kJ_per_mol,
        "F_kT": result.F_kT,
        "F_eV": result.F_eV,
    })


def windows_table(result: PMFResult, cv_unit: str) -> pd.DataFrame:
    """Per-window statistics (the statistical inefficiency is in frames)."""
    u = "" if cv_unit in DIMENSIONLESS else f"_{cv_unit}"
    k_unit = "kJ_per_mol" if cv_unit in DIMENSIONLESS else f"kJ_per_mol_per_{cv_unit}2"
    return pd.DataFrame({
        "window": np.arange(len(result.windows)),
        f"center{u}": [w.center for w in result.windows],
        f"k_{k_unit}": [w.k for w in result.windows],
        "n_frames": result.n_frames,
        "equilibration_start": result.equilibration_start,
        "statistical_inefficiency": result.statistical_inefficiency,
        "n_effective": result.n_effective,
        "n_used": result.n_used,
        "window_F_kJ_per_mol": result.window_f_kJ_per_mol,
        "window_dF_kJ_per_mol": result.window_df_kJ_per_mol,
    })


def strict_json(obj):
    """Copy of ``obj`` with non-finite floats replaced by ``None`` (JSON ``null``)."""
    if isinstance(obj, dict):
        return {str(k): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _save_png(fig: Figure, path: Path, dpi: int = 120) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def with_replicas(result: PMFResult, replicas: list[PMFResult], states: dict | None,
                  ranges: dict | None) -> tuple[PMFResult, dict, pd.DataFrame]:
    """The pooled ``result`` with the replicas' spread in its ``dF`` (and warnings), the
    ``barriers.json`` summary whose sigmas include the spread of each replica's value, and
    the replicas' F per bin (:func:`predesolv.analysis.replicas.combine_replicas`)."""
    kT, n = result.kT_kJ_per_mol, len(replicas)
    spread = combine_replicas(result.F_kJ_per_mol, result.dF_kJ_per_mol,
                              np.stack([r.F_kJ_per_mol for r in replicas]),
                              np.stack([r.dF_kJ_per_mol for r in replicas]), kT)
    combined = replace(result, dF_kJ_per_mol=spread.dF_kJ_per_mol,
                       warnings=[*result.warnings, *([spread.warning] if spread.warning else [])])
    summary = barriers(combined, states, ranges)
    per = [barriers(r, states, ranges) for r in replicas]
    for key in ("state_differences", "barriers"):
        for i, entry in enumerate(summary[key]):
            values = np.array([p[key][i]["dF_kJ_per_mol"] for p in per], dtype=float)
            sigma, s_rep = replica_sigma(entry["sigma_kJ_per_mol"], values)
            entry.update(replica_dF_kJ_per_mol=values.tolist(), sigma_replicas_kJ_per_mol=s_rep,
                         sigma_kJ_per_mol=sigma, sigma_kT=sigma / kT,
                         sigma_eV=sigma / KJ_PER_MOL_PER_EV)
    summary["replicas"] = {"count": n, "agree": spread.agree}
    table = pd.DataFrame({f"F_replica{r}_kJ_per_mol": rep.F_kJ_per_mol
                          for r, rep in enumerate(replicas)})
    table["replica_spread_kJ_per_mol"] = spread.spread_kJ_per_mol
    return combined, summary, table


def write_outputs(result: PMFResult, out_dir, cv_name: str, cv_unit: str, *,
                  states: dict | None = None, ranges: dict | None = None,
                  replicas: list[PMFResult] | None = None) -> dict[str, Path]:
    """Write every PMF output file into ``out_dir`` (created if missing).

    Parameters
    ----------
    result : PMFResult
    out_dir : str or Path
    cv_name, cv_unit : str
        ``"x"``, ``"nm"`` -> column ``x_nm``; ``"cn"``, ``""`` -> column ``cn``.
    states, ranges : dict of name -> (low, high), optional
        Passed to :func:`predesolv.analysis.pmf.barriers` for ``barriers.json``.
    replicas : list of PMFResult, optional
        Each replica estimated alone on ``result``'s bins (``result`` pools them all): their
        spread joins ``dF`` and every sigma, and ``pmf.csv`` gains one F column per replica
        and the spread (:func:`with_replicas`).

    Returns
    -------
    dict of str -> Path
        File name -> path written.
    """
    extra = pd.DataFrame()
    if replicas:
        result, summary_core, extra = with_replicas(result, replicas, states, ranges)
    else:
        summary_core = barriers(result, states, ranges)
    table = pmf_table(result, cv_name, cv_unit)  # validates cv_name before anything is written
    table = pd.concat([table, extra], axis=1)
    summary = strict_json({"cv": cv_column(cv_name, cv_unit), **summary_core,
                           "warnings": list(result.warnings)})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in (PMF_CSV, PMF_PNG, OVERLAP_PNG, HISTOGRAMS_PNG,
                                           BARRIERS_JSON, WINDOWS_CSV, OVERLAP_CSV)}
    atomic_write_text(paths[PMF_CSV], table.to_csv(index=False, float_format="%.10g"))
    atomic_write_text(paths[WINDOWS_CSV], windows_table(result, cv_unit).to_csv(
        index=False, float_format="%.10g"))
    K = len(result.windows)
    atomic_write_text(paths[OVERLAP_CSV], pd.DataFrame(
        result.overlap_matrix, columns=[f"window_{j}" for j in range(K)]).to_csv(
        index_label="window", float_format="%.10g"))
    atomic_write_json(paths[BARRIERS_JSON], summary)
    _save_png(plot_pmf(result, cv_name, cv_unit), paths[PMF_PNG])
    _save_png(plot_overlap(result), paths[OVERLAP_PNG])
    _save_png(plot_histograms(result, cv_name, cv_unit), paths[HISTOGRAMS_PNG])
    return paths


def _pm(entry: dict, key: str, unit_name: str, digits: int) -> str:
    value, sigma = entry.get(f"dF_{key}"), entry.get(f"sigma_{key}")
    if value is None:
        return "undefined"
    text = f"{value:+.{digits}f}"
    return text + (f" ± {sigma:.{digits}f}" if sigma is not None else "") + f" {unit_name}"


def format_summary(summary: dict) -> str:
    """The numbers of a ``barriers.json`` as lines for the terminal: every state difference
    and barrier in kJ/mol, kT and eV with its bootstrap σ (none without bootstraps), then the
    number of warnings."""
    lines = [f"PMF along {summary['cv']} at {summary['temperature_K']:g} K "
             f"({summary['n_bootstraps']} bootstraps):"]
    for what, key in (("ΔF", "state_differences"), ("barrier", "barriers")):
        for e in summary.get(key, []):
            label = e.get("name") or f"{e.get('from')} -> {e.get('to')}"
            lines.append(f"  {what} {label}: {_pm(e, 'kJ_per_mol', 'kJ/mol', 2)} = "
                         f"{_pm(e, 'kT', 'kT', 2)} = {_pm(e, 'eV', 'eV', 3)}")
    if len(lines) == 1:
        lines.append("  no named states or barrier ranges (estimator.states / ranges); see "
                     "pmf.csv")
    n = len(summary.get("warnings", []))
    if n:
        lines.append(f"  {n} warning{'s' if n > 1 else ''}: see above and {BARRIERS_JSON}")
    return "\n".join(lines)
