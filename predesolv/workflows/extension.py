"""Which finished umbrella windows to sample longer (``predesolv pmf --extend --only-short``).

Umbrella windows decorrelate at very different rates: near a flat stretch of the free energy
the CV drifts slowly with the solvation shell, and a window there can have ten times the
statistical inefficiency of a stiff window near contact. Extending every window until the
slowest passes the estimator's sample gate spends most of the time on windows that passed
long ago. ``--only-short`` extends only the windows whose production has fewer effectively
uncorrelated samples than ``pmf.estimator.min_effective_samples`` in *any* of their CVs —
counted as the estimator's gate counts them (:func:`window_samples`). MBAR takes windows of
different lengths as they are; the PMF folder's manifest records which windows were extended
and to what length (:meth:`~.pmfdir.PMFDir.record_extension`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from predesolv.analysis.pmf import decorrelate_series
from predesolv.config import RunConfig
from predesolv.errors import AnalysisError
from predesolv.rundir import RunDir
from predesolv.state_archive import StudyState

from .pmfdir import PMFDir, window_label
from .protocol import plan_windows
from .wallcheck import checked_production


@dataclass(frozen=True)
class WindowSamples:
    """Effectively uncorrelated samples of one finished window (its poorest CV).

    Attributes
    ----------
    label : str
        The window's name (``w004``, ``r1/w004``).
    n_frames : int
        Production frames of the window.
    n_effective : float
        The smallest effective sample count over the window's CVs.
    column : str
        The ``state.csv`` column of that CV.
    """

    label: str
    n_frames: int
    n_effective: float
    column: str


def window_samples(rd: RunDir, decorrelate: bool = True,
                   detect_equilibration: bool = False) -> WindowSamples:
    """Effective samples of a finished window's every CV (``cv (…)`` and ``cv2 (…)``
    columns of its production rows), the poorest one reported, as the estimator's gate
    counts them: one CV, :attr:`~predesolv.analysis.pmf_types.DecorrelatedSeries.n_gate`
    with the estimator's ``decorrelate`` and ``detect_equilibration``; two CVs (the 2D
    estimator, :mod:`predesolv.analysis.fes2d`), frames / g of each CV.

    Raises
    ------
    WallEscapeError
        A wall of the window let its CV go (as for the estimate).
    """
    cfg = rd.load_config()
    df, _ = checked_production(rd, cfg)
    label = window_label(rd)
    cols = [c for c in df.columns if c.startswith(("cv (", "cv2 ("))]
    if len(cols) > 1:  # the 2D estimator: frames / g, no equilibration detection
        decorrelate, detect_equilibration = False, False
    worst: WindowSamples | None = None
    for col in cols:
        try:
            n_eff = decorrelate_series(df[col].to_numpy(float), decorrelate=decorrelate,
                                       detect_equilibration=detect_equilibration).n_gate
        except AnalysisError:  # a constant or too short series: as poor as it gets
            n_eff = 0.0
        if worst is None or n_eff < worst.n_effective:
            worst = WindowSamples(label, len(df), n_eff, col)
    if worst is None:
        raise AnalysisError(f"{rd.path}: no CV columns in state.csv to count samples of")
    return worst


def short_windows(cfg: RunConfig, dirs: list[RunDir]) -> list[WindowSamples]:
    """The finished windows of ``dirs`` below ``pmf.estimator.min_effective_samples``.

    Parameters
    ----------
    cfg : RunConfig
        The PMF config (its estimator settings are the gate).
    dirs : list of RunDir
        Finished windows (an unfinished one is run by ``pmf`` anyway).
    """
    assert cfg.pmf is not None
    est = cfg.pmf.estimator
    counts = [window_samples(d, est.decorrelate, est.detect_equilibration) for d in dirs]
    return [c for c in counts if c.n_effective < est.min_effective_samples]


def save_pmf_state(cfg: RunConfig, pdir: PMFDir, archive: str | Path,
                   only_short: bool = False) -> StudyState:
    """``pmf --save-state [--only-short]``: pack the PMF folder ``pdir``
    (:meth:`~.pmfdir.PMFDir.save_state`). With ``only_short``, only the finished windows
    below ``cfg``'s sample gate keep what an extension starts from (their newest checkpoint
    XML and final state); the others lose it, which keeps the archive small when only the
    short windows will be extended (``--extend --only-short`` with the same gate). A
    replica's pull whose every window holds its inputs loses its trajectory (the frames
    only seed windows not yet written).
    """
    assert cfg.pmf is not None
    frozen: list[RunDir] = []
    replicas = [pdir.replica(i) for i in range(cfg.pmf.replicas)]
    if only_short:
        done = [d for r in replicas for d in r.window_dirs() if d.is_complete()]
        short = {s.label for s in short_windows(cfg, done)}
        frozen = [d for d in done if window_label(d) not in short]
    n_windows = len(plan_windows(cfg))
    seeded = [RunDir(r.pull) for r in replicas if RunDir(r.pull).is_complete()
              and sum(d.has_inputs() for d in r.window_dirs()) == n_windows]
    return pdir.save_state(archive, frozen, seeded)


def describe(short: list[WindowSamples], minimum: int) -> str:
    """One line per window for the log: name, effective samples, frames, CV."""
    return "; ".join(f"{s.label} {s.n_effective:.1f} of {s.n_frames} frames ({s.column})"
                     for s in short) + f" (< {minimum})"


__all__ = ["WindowSamples", "describe", "save_pmf_state", "short_windows", "window_samples"]
