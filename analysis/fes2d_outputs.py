"""Files of a two-CV free-energy surface (every one written atomically).

``fes.csv``             cv1, cv2 (units in the column names), F and dF (kJ/mol), F (kT),
                        samples per bin; NaN where a bin holds no sample of the connected
                        windows
``fes_projection.csv``  F(cv1) from the same MBAR weights, with its bootstrap dF
``fes_path.csv``        the minimum free-energy path (minimax) between the lowest bin of the
                        first third of cv1 and that of the last third: cv1, cv2, F, dF
``fes_windows.csv``     per window: centres, force constants, frames, statistical
                        inefficiency and effective samples of *both* CVs, samples used,
                        connected or not
``fes.png``             heat map with contours every kT, the path and the window centres
                        (hollow: not connected); the projection and the path profile beside
``fes.json``            the path's barrier ± bootstrap σ — or "not connected" instead of a
                        number —, whether the result converged (every window connected,
                        first and second halves agreeing) and the warnings
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from predesolv.analysis.fes2d import FES2DResult, minimum_free_energy_path
from predesolv.analysis.pmf_outputs import DIMENSIONLESS, strict_json
from predesolv.analysis.replicas import combine_replicas, replica_sigma
from predesolv.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text

FES_CSV = "fes.csv"
FES_PROJECTION_CSV = "fes_projection.csv"
FES_PATH_CSV = "fes_path.csv"
FES_WINDOWS_CSV = "fes_windows.csv"
FES_PNG = "fes.png"
FES_JSON = "fes.json"

def _label(name: str, unit: str) -> str:
    return name if unit in DIMENSIONLESS else f"{name} ({unit})"


def surface_table(result: FES2DResult, names: tuple[str, str], units: tuple[str, str]
                  ) -> pd.DataFrame:
    """``fes.csv``: one row per bin, cv1 slowest."""
    c1, c2 = result.centers
    g1, g2 = np.meshgrid(c1, c2, indexing="ij")
    return pd.DataFrame({
        _label(names[0], units[0]): g1.ravel(), _label(names[1], units[1]): g2.ravel(),
        "F (kJ/mol)": result.F_kJ_per_mol.ravel(), "dF (kJ/mol)": result.dF_kJ_per_mol.ravel(),
        "F (kT)": result.F_kJ_per_mol.ravel() / result.kT, "samples": result.counts.ravel(),
        "F first half (kJ/mol)": result.halves[0].ravel(),
        "F second half (kJ/mol)": result.halves[1].ravel()})


def path_ends(result: FES2DResult) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Lowest bins of the first and the last third of the populated cv1 range."""
    F = result.F_kJ_per_mol
    rows = np.nonzero(np.isfinite(F).any(axis=1))[0]
    if rows.size < 3:
        return None
    third = max(1, rows.size // 3)
    ends: list[tuple[int, int]] = []
    for sel in (rows[:third], rows[-third:]):
        sub = np.full(F.shape, np.nan)
        sub[sel] = F[sel]
        i, j = np.unravel_index(np.nanargmin(sub), F.shape)
        ends.append((int(i), int(j)))
    return ends[0], ends[1]


def path_summary(result: FES2DResult, names: tuple[str, str], units: tuple[str, str]
                 ) -> tuple[pd.DataFrame, dict]:
    """``fes_path.csv`` rows and the barrier record (bootstrap σ over the same path)."""
    c1, c2 = result.centers
    ends = path_ends(result)
    path = None if ends is None else minimum_free_energy_path(result.F_kJ_per_mol, *ends)
    if ends is None or path is None:
        return pd.DataFrame(), {"barrier": "not connected", "note": (
            "no path of sampled bins joins the two ends of cv1: no free-energy difference "
            "is reported across the gap")}
    idx = tuple(np.array(path).T)
    F, dF = result.F_kJ_per_mol[idx], result.dF_kJ_per_mol[idx]
    rows = pd.DataFrame({"step": np.arange(len(path)),
                         _label(names[0], units[0]): c1[idx[0]],
                         _label(names[1], units[1]): c2[idx[1]],
                         "F (kJ/mol)": F, "dF (kJ/mol)": dF})
    top = int(np.argmax(F))
    barrier = float(F[top] - F[0])
    sigma = math.nan
    if len(result.bootstrap_F_kJ_per_mol) >= 2:
        reps = result.bootstrap_F_kJ_per_mol[:, idx[0], idx[1]]
        sigma = float(np.nanstd(reps[:, top] - reps[:, 0]))
    record = {"barrier_kJ_per_mol": barrier, "barrier_sigma_kJ_per_mol": sigma,
              "barrier_kT": barrier / result.kT,
              "from": [float(c1[path[0][0]]), float(c2[path[0][1]])],
              "top": [float(c1[path[top][0]]), float(c2[path[top][1]])],
              "to": [float(c1[path[-1][0]]), float(c2[path[-1][1]])],
              "dF_to_minus_from_kJ_per_mol": float(F[-1] - F[0])}
    return rows, record


def windows_table(result: FES2DResult, names: tuple[str, str], window_names: list[str]
                  ) -> pd.DataFrame:
    """``fes_windows.csv``: per window, both CVs' statistics."""
    w = result.windows
    return pd.DataFrame({
        "window": window_names,
        f"center_{names[0]}": [x.center[0] for x in w],
        f"center_{names[1]}": [x.center[1] for x in w],
        f"k_{names[0]}": [x.k[0] for x in w], f"k_{names[1]}": [x.k[1] for x in w],
        "n_frames": result.n_frames,
        f"g_{names[0]}": result.g[:, 0], f"g_{names[1]}": result.g[:, 1],
        f"n_effective_{names[0]}": result.n_effective[:, 0],
        f"n_effective_{names[1]}": result.n_effective[:, 1],
        "n_used": result.n_used, "connected": result.connected})


def plot_fes(result: FES2DResult, names: tuple[str, str], units: tuple[str, str],
             path: pd.DataFrame) -> Figure:
    """Heat map (kJ/mol) with kT contours, path, window centres; projection and profile."""
    fig = Figure(figsize=(11, 4.5))
    ax, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
    e1, e2 = result.edges
    F = np.ma.masked_invalid(result.F_kJ_per_mol)
    mesh = ax.pcolormesh(e1, e2, F.T, cmap="viridis", shading="flat")
    c1, c2 = result.centers
    top = float(np.nanmax(result.F_kJ_per_mol)) if F.count() else 0.0
    if F.count() > 3 and top > result.kT:
        ax.contour(c1, c2, F.T, levels=np.arange(result.kT, top, result.kT), colors="w",
                   linewidths=0.5)
    fig.colorbar(mesh, ax=ax, label="F (kJ/mol)")
    lab = (_label(names[0], units[0]), _label(names[1], units[1]))
    if len(path):
        ax.plot(path[lab[0]], path[lab[1]], "r.-", lw=1.5, label="min. free-energy path")
    cen = np.array([w.center for w in result.windows])
    ax.scatter(cen[result.connected, 0], cen[result.connected, 1], s=12, c="k",
               label="window centres")
    if (~result.connected).any():
        ax.scatter(cen[~result.connected, 0], cen[~result.connected, 1], s=18,
                   facecolors="none", edgecolors="r", label="not connected")
    ax.set_xlabel(lab[0])
    ax.set_ylabel(lab[1])
    ax.legend(fontsize=7, loc="best")
    ax2.plot(c1, result.projection_kJ_per_mol, "k-", label=f"projection on {names[0]}")
    if len(path):
        ax2.plot(path[lab[0]], path["F (kJ/mol)"], "r.-", label="along the path")
    ax2.set_xlabel(lab[0])
    ax2.set_ylabel("F (kJ/mol)")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    return fig


def with_replicas(result: FES2DResult, replicas: list[FES2DResult], path: pd.DataFrame,
                  record: dict) -> tuple[FES2DResult, dict]:
    """The pooled ``result`` with the replicas' spread in its ``dF`` (and warnings), and
    the path record with each replica's barrier along the same path and a sigma that
    includes their spread (:func:`predesolv.analysis.replicas.combine_replicas`)."""
    spread = combine_replicas(result.F_kJ_per_mol, result.dF_kJ_per_mol,
                              np.stack([r.F_kJ_per_mol for r in replicas]),
                              np.stack([r.dF_kJ_per_mol for r in replicas]), result.kT)
    combined = replace(result, dF_kJ_per_mol=spread.dF_kJ_per_mol,
                       warnings=[*result.warnings, *([spread.warning] if spread.warning else [])])
    record = {**record, "replicas_agree": spread.agree}
    if len(path) and "barrier_kJ_per_mol" in record:
        c1, c2 = result.centers
        i = np.searchsorted(c1, path.iloc[:, 1].to_numpy())
        j = np.searchsorted(c2, path.iloc[:, 2].to_numpy())
        top = int(np.argmax(path["F (kJ/mol)"].to_numpy()))
        values = np.array([r.F_kJ_per_mol[i[top], j[top]] - r.F_kJ_per_mol[i[0], j[0]]
                           for r in replicas])
        sigma, s_rep = replica_sigma(float(np.nan_to_num(record["barrier_sigma_kJ_per_mol"])),
                                     values)
        record.update(replica_barriers_kJ_per_mol=values.tolist(),
                      barrier_sigma_replicas_kJ_per_mol=s_rep, barrier_sigma_kJ_per_mol=sigma)
    return combined, record


def write_fes_outputs(result: FES2DResult, out: str | Path, names: tuple[str, str],
                      units: tuple[str, str], window_names: list[str],
                      replicas: list[FES2DResult] | None = None) -> dict[str, Path]:
    """Write every file of the module docstring into ``out``; returns name -> path.
    ``replicas``: each replica estimated alone on ``result``'s bins (``result`` pools
    them): their spread joins dF and the path barrier's sigma, ``fes.csv`` gains one F
    column per replica, and ``converged`` also needs them to agree."""
    out = Path(out)
    c1, _ = result.centers
    path, record = path_summary(result, names, units)
    agree = True
    if replicas:
        result, record = with_replicas(result, replicas, path, record)
        agree = bool(record["replicas_agree"])
    surface = surface_table(result, names, units)
    for r, rep in enumerate(replicas or []):
        surface[f"F replica {r} (kJ/mol)"] = rep.F_kJ_per_mol.ravel()
    tables = {
        FES_CSV: surface,
        FES_PROJECTION_CSV: pd.DataFrame({
            _label(names[0], units[0]): c1, "F (kJ/mol)": result.projection_kJ_per_mol,
            "dF (kJ/mol)": result.projection_dF_kJ_per_mol}),
        FES_PATH_CSV: path, FES_WINDOWS_CSV: windows_table(result, names, window_names)}
    files = {}
    for name, df in tables.items():
        atomic_write_text(out / name, df.to_csv(index=False))
        files[name] = out / name
    buf = io.BytesIO()
    plot_fes(result, names, units, path).savefig(buf, format="png", dpi=130)
    atomic_write_bytes(out / FES_PNG, buf.getvalue())
    files[FES_PNG] = out / FES_PNG
    atomic_write_json(out / FES_JSON, strict_json({
        "cvs": list(names), "units": list(units), "temperature_kT_kJ_per_mol": result.kT,
        "windows": len(result.windows), "connected_windows": int(result.connected.sum()),
        "bootstraps": len(result.bootstrap_F_kJ_per_mol), "replicas": len(replicas or [1]),
        "halves_agree": result.halves_agree, "converged": result.converged and agree,
        "path": record, "warnings": result.warnings}))
    files[FES_JSON] = out / FES_JSON
    return files


def _point(xy: list[float]) -> str:
    return f"({xy[0]:.4g}, {xy[1]:.4g})"


def format_fes_summary(record: dict) -> str:
    """The lines ``predesolv pmf`` prints for a two-CV surface (from ``fes.json``)."""
    path = record.get("path", {})
    state = "converged" if record.get("converged") else "NOT converged (see the warnings)"
    reps = record.get("replicas", 1)
    lines = [f"free-energy surface over {record['cvs'][0]} x {record['cvs'][1]}: "
             f"{record['connected_windows']} of {record['windows']} windows connected"
             + (f" ({reps} replicas pooled)" if reps > 1 else "") + f"; {state}"]
    if "barrier_kJ_per_mol" in path:
        sigma = path.get("barrier_sigma_kJ_per_mol")
        pm = "" if sigma is None else f" ± {sigma:.2f}"
        lines.append(f"barrier along the minimum free-energy path: "
                     f"{path['barrier_kJ_per_mol']:.2f}{pm} kJ/mol "
                     f"({path['barrier_kT']:.2f} kT), from {_point(path['from'])} over "
                     f"{_point(path['top'])} to {_point(path['to'])}")
    else:
        lines.append(f"barrier along the path: {path.get('barrier', 'not connected')} "
                     f"({path.get('note', '')})")
    lines += [f"warning: {w}" for w in record.get("warnings", [])]
    return "\n".join(lines)


__all__ = ["FES_CSV", "FES_JSON", "FES_PATH_CSV", "FES_PNG", "FES_PROJECTION_CSV",
           "FES_WINDOWS_CSV", "format_fes_summary", "path_summary", "surface_table",
           "write_fes_outputs"]


class FESFiles:
    """The read side of one folder's surface files (this module writes them)."""

    NAMES = (FES_CSV, FES_PROJECTION_CSV, FES_PATH_CSV, FES_WINDOWS_CSV, FES_PNG, FES_JSON)

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def surface(self) -> pd.DataFrame:
        """``fes.csv``: one row per bin (cv1, cv2, F, dF, ...; replica columns)."""
        return pd.read_csv(self.root / FES_CSV)

    def projection(self) -> pd.DataFrame:
        """``fes_projection.csv``: F(cv1) and dF (kJ/mol)."""
        return pd.read_csv(self.root / FES_PROJECTION_CSV)

    def record(self) -> dict[str, Any]:
        """``fes.json``: kT, convergence, the path's barrier and the warnings."""
        return dict(json.loads((self.root / FES_JSON).read_text()))

    def files(self) -> list[Path]:
        """Every file of the surface, in :attr:`NAMES` order."""
        return [self.root / n for n in self.NAMES]
