"""One ion followed through time: position, shell, entry and desolvation events."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from predesolv.errors import AnalysisError

from .coordination import Coordination
from .units import angstrom_to_nm


def choose_ion(coord: Coordination) -> int:
    """Index (in the ion group) of the most interesting ion to follow.

    In order: among ions whose insertion coordinate crosses the mouth (< 0 then >= 0), the one
    spending most frames outside ``bulk``; else the ion spending most frames outside
    ``bulk``; else (no regions or all bulk) the ion closest to the mouth on average; without
    an insertion axis, the ion whose total coordination number varies most. Ties go to the
    lowest index.
    """
    r = coord.results
    n_bulk = len(r.region_names) - 1
    non_bulk = (r.regions != n_bulk).sum(axis=0)
    if coord.geometry.has_insertion and np.isfinite(r.insertion_nm).any():
        s = r.insertion_nm
        crosses = ((s[:-1] < 0) & (s[1:] >= 0)).any(axis=0) if len(s) > 1 else np.zeros(
            s.shape[1], bool)
        if crosses.any():
            return int(np.argmax(np.where(crosses, non_bulk, -1)))
        if non_bulk.any():
            return int(np.argmax(non_bulk))
        return int(np.nanargmin(np.nanmean(np.abs(s), axis=0)))
    if non_bulk.any():
        return int(np.argmax(non_bulk))
    return int(np.argmax(r.counts.sum(axis=-1).std(axis=0)))


def _members(shell: pd.DataFrame, ion: int, n_frames: int) -> list[frozenset[str]]:
    sub = shell[shell["ion"] == ion]
    out: list[set] = [set() for _ in range(n_frames)]
    for fi, k, rix in zip(sub["frame_index"], sub["kind"].astype(str), sub["resindex"],
                          strict=True):
        out[int(fi)].add(f"{k}#{int(rix)}")
    return [frozenset(s) for s in out]


def _fmt(members) -> str:
    return ";".join(sorted(members, key=lambda m: (m.split("#")[0], int(m.split("#")[1]))))


def track_ion(coord: Coordination, ion: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time series and events of one ion.

    Parameters
    ----------
    coord : Coordination
        A finished analysis.
    ion : int, optional
        Index in the ion group (not the topology index); default :func:`choose_ion`.

    Returns
    -------
    series : pandas.DataFrame
        One row per frame: ``frame``, ``time_ps``, ``x_nm``, ``y_nm``, ``z_nm`` (as read),
        ``insertion_nm``, ``region``, per kind ``cn_<kind>`` and ``nmol_<kind>``, and
        ``members`` — the coordinating molecules as ``KIND#resindex`` (0-based residue
        index) joined by ``;``. ``series.attrs`` holds ``ion`` and ``atom_index``.
    events : pandas.DataFrame
        One row per event, columns ``frame``, ``time_ps``, ``event``, ``insertion_nm``,
        ``region``, ``molecule`` (``KIND#resindex`` or empty), ``shell_before``,
        ``shell_after``, ``kept``. Events: ``enter`` (insertion coordinate goes from < 0 to
        >= 0: the mouth crossing; ``kept`` lists molecules present both in the frame before
        and at the crossing), ``exit`` (the reverse), ``region`` (region label changes),
        ``lost`` / ``gained`` (a molecule leaves / joins the first shell; no hysteresis, so
        noisy cutoff crossings appear as pairs).
    """
    r = coord.results
    if not hasattr(r, "counts"):
        raise AnalysisError("run() the Coordination analysis before tracking an ion")
    n_frames, n_ions = r.regions.shape
    if ion is None:
        ion = choose_ion(coord)
    if not 0 <= int(ion) < n_ions:
        raise AnalysisError(f"ion index {ion} out of range: the ion group has {n_ions} atoms")
    ion = int(ion)
    members = _members(r.shell, ion, n_frames)
    series = _series(coord, ion, members)
    return series, _events(r, ion, members)


EVENT_COLUMNS = ["frame", "time_ps", "event", "insertion_nm", "region", "molecule",
                 "shell_before", "shell_after", "kept"]


def _series(coord: Coordination, ion: int, members: list[frozenset[str]]) -> pd.DataFrame:
    """One row per frame for ``ion`` (see :func:`track_ion`)."""
    r = coord.results
    names = np.asarray(r.region_names, dtype=object)
    pos_nm = angstrom_to_nm(r.positions[:, ion, :])
    data = {
        "frame": r.frames,
        "time_ps": r.times_ps,
        "x_nm": pos_nm[:, 0],
        "y_nm": pos_nm[:, 1],
        "z_nm": pos_nm[:, 2],
        "insertion_nm": r.insertion_nm[:, ion],
        "region": names[r.regions[:, ion]],
    }
    for j, k in enumerate(r.kinds):
        data[f"cn_{k}"] = r.counts[:, ion, j]
        data[f"nmol_{k}"] = r.n_molecules[:, ion, j]
    data["members"] = [_fmt(m) for m in members]
    series = pd.DataFrame(data)
    series.attrs.update(ion=ion, atom_index=int(coord.ions.ix[ion]))
    return series


def _events(r: Any, ion: int, members: list[frozenset[str]]) -> pd.DataFrame:
    """Mouth crossings, region changes and shell changes of ``ion`` (see :func:`track_ion`)."""
    names = np.asarray(r.region_names, dtype=object)
    ev = []

    def add(t: int, kind: str, molecule: str = "") -> None:
        ev.append({"frame": int(r.frames[t]), "time_ps": float(r.times_ps[t]), "event": kind,
                   "insertion_nm": float(r.insertion_nm[t, ion]),
                   "region": names[r.regions[t, ion]], "molecule": molecule,
                   "shell_before": _fmt(members[t - 1]), "shell_after": _fmt(members[t]),
                   "kept": _fmt(members[t - 1] & members[t])})

    s = r.insertion_nm[:, ion]
    for t in range(1, len(members)):
        if np.isfinite(s[t - 1]) and np.isfinite(s[t]):
            if s[t - 1] < 0 <= s[t]:
                add(t, "enter")
            elif s[t] < 0 <= s[t - 1]:
                add(t, "exit")
        if r.regions[t, ion] != r.regions[t - 1, ion]:
            add(t, "region")
        for m in sorted(members[t - 1] - members[t]):
            add(t, "lost", m)
        for m in sorted(members[t] - members[t - 1]):
            add(t, "gained", m)
    return pd.DataFrame(ev, columns=EVENT_COLUMNS)
