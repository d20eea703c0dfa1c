"""The papers' computational experiments as runnable studies (``predesolv study ID``).

Each study has a folder ``studies/<ID>/`` in the repository (its README: question, command,
cost; one subfolder of configs per size) and a runner here that executes the configs of one
size into an output folder and writes the study's own small outputs (CSV/JSON/PNG) beside
the ordinary run directories, with one summary per study (:class:`StudyResult`,
:mod:`predesolv.studies.result`). Sizes: ``smoke`` (mechanics only, < 2 min on 2 CPU cores,
run in CI) and ``paper`` (the size whose numbers are reported in
``docs/paper_comparison.md``).

Study runs are resumable: an interrupted ``paper`` study picks up every run directory where
it stopped (``--resume``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from predesolv.errors import ConfigError, RunDirectoryError
from predesolv.state_archive import StudyState, describe, save_state, unpack_state

from .charges import digest_charges, run_charges
from .common import SIZES, configs, results_root, run_config, studies_root
from .e0 import run_e0
from .e1 import run_e1
from .e5 import run_e5
from .e5_mlip import run_e5_mlip
from .e6 import run_e6
from .e7 import run_e7
from .e7_300k import run_e7_300k
from .e7_search import PARTS, run_e7_search
from .e7_shell import digest_census
from .insertion import digest_insertion, run_insertion
from .result import STUDY_FILE, StudyResult

__all__ = ["SIZES", "STUDY_FILE", "Study", "StudyResult", "canonical_id", "configs",
           "format_study",
           "paper_status", "registry", "results_root", "run_config", "run_study",
           "save_study_state", "studies_root", "StudyState", "describe"]


@dataclass(frozen=True)
class Study:
    """One experiment: identifier, question, and the function that runs one size."""

    id: str
    title: str
    runner: Callable[[Path, Path, dict[str, Any]], dict[str, Path]]
    #: Writes the digests the study's outputs read from its finished umbrella windows'
    #: trajectories (``(configs folder, output folder)``); None for a study that has no
    #: windows or reads none of their trajectories.
    digest: Callable[[Path, Path], None] | None = None
    #: A folder of the study's output that holds its state where it has no run directories
    #: (E7-search: the minima of each search, ``parts/``); packed by ``--save-state``.
    state_folder: str | None = None


_STUDIES = (
    Study("E0", "Na filling of closed graphitic pores at 0 K with two machine-learned "
                "potentials: H(n), nucleation barrier vs cavity size, intercalation, "
                "stage-wise pores", run_e0),
    Study("E1", "Na+ solvation in DME: anion-free box vs 1 M NaPF6/DME", run_e1),
    Study("E2", "Na+ with its DME shell into a charged 0.6 nm slit: insertion PMF, shell "
                "along the path", run_insertion, digest_insertion),
    Study("E3", "the same at 0.8 and 1.0 nm", run_insertion, digest_insertion),
    Study("E3-charges", "which parts of the E2/E3 two-CV verdicts depend on the wall charge "
                        "(sigma = 0, -0.10, -0.15 C/m2 beside -0.05) and on full ionic "
                        "charges (q = 1.0 beside 0.8)", run_charges, digest_charges),
    Study("E4", "a lone DME into the 0.6 nm slit (pure DME, neutral walls) and into E3's "
                "0.8 and 1.0 nm slits (1 M NaPF6/DME, charged walls): insertion PMFs",
          run_insertion, digest_insertion),
    Study("E5", "Na+ migration barriers across 0.40-0.55 nm: default and fitted Na-C, "
                "AA and AB", run_e5),
    Study("E5-MLIP", "the same barriers predicted by two machine-learned potentials "
                     "(climbing-image NEB, nothing fitted)", run_e5_mlip),
    Study("E6", "co-intercalation free energies between slit spacings as potential "
                "differences (V), from the E2/E3 two-CV surfaces; never an absolute potential",
          run_e6),
    Study("E7", "stepwise EC desolvation of Na+(EC)n at 0 K near pristine and N-doped "
                "carbon edges", run_e7),
    Study("E7-xTB", "the gas-phase Na+(EC)n steps of E7 from the force field and re-ranked "
                    "with GFN2-xTB", run_e7),
    Study("E7-search", "how far the 0 K search for Na+(EC)n minima has converged: lowest "
                       "minimum vs number of starts, random and annealed", run_e7_search,
          state_folder=PARTS),
    Study("E7-300K", "free energy vs Na-O(EC) coordination near pristine and N-oxide "
                     "carbon edges in EC/DMC at 300 K (umbrella + MBAR)", run_e7_300k,
          digest_census),
)


def registry() -> dict[str, Study]:
    """Every study by identifier."""
    return {s.id: s for s in _STUDIES}


def canonical_id(study_id: str) -> str:
    """The registered spelling of ``study_id`` (matched case-insensitively: ``e7-xtb`` ->
    ``E7-xTB``); unchanged when no study matches."""
    return next((k for k in registry() if k.upper() == study_id.upper()), study_id)


def _resolve(study_id: str, size: str, out: str | Path | None) -> tuple[Study, Path, Path]:
    """The study, its configs folder of ``size`` and its output folder (absolute).

    Raises
    ------
    ConfigError
        Unknown study or size (the message lists what exists).
    """
    studies = registry()
    key = canonical_id(study_id)
    if key not in studies:
        raise ConfigError(f"study: {study_id!r} is not a study; available: "
                          f"{', '.join(studies)}", "study")
    if size not in SIZES:
        raise ConfigError(f"--size: {size!r}; choose {' or '.join(SIZES)}", "--size")
    folder_out = Path(out or Path("runs") / "studies" / f"{key}-{size}").absolute()
    return studies[key], studies_root() / key / size, folder_out


def save_study_state(study_id: str, size: str, out: str | Path | None,
                     archive: str | Path) -> StudyState:
    """Pack the study folder ``out`` into ``archive`` (``.tar.xz``), small enough to copy or
    commit, for :func:`run_study` ``(continue_from=archive)`` on another machine
    (:mod:`predesolv.state_archive`). Nothing is run; the study's digests of its finished
    windows are written first, then their trajectories are left out (a study without a
    digest hook keeps them).

    Raises
    ------
    ConfigError
        Unknown study or size, or an archive name not ending in ``.tar.xz``.
    RunDirectoryError
        ``out`` holds no runs of a study, or one of them is being written.
    """
    study, folder, folder_out = _resolve(study_id, size, out)
    if not folder_out.is_dir():
        raise RunDirectoryError(f"--out: {folder_out} does not exist: nothing to save (run "
                                f"the study first, or give its --out)")
    if study.digest is not None:
        study.digest(folder, folder_out)
    # a study without a digest hook keeps its windows' trajectories (it may read them)
    return save_state(folder_out, Path(archive).absolute(), study.id, size,
                      windows_digested=study.digest is not None,
                      state_folder=study.state_folder)


def run_study(study_id: str, size: str = "smoke", out: str | Path | None = None, *,
              overwrite: bool = False, resume: bool = False,
              platform: str | None = None,
              continue_from: str | Path | None = None,
              only: Sequence[str] | None = None) -> dict[str, Path]:
    """Run one size of a study and return the files it wrote.

    Parameters
    ----------
    study_id : str
        ``E1``, ``E5``, ... (case-insensitive).
    size : {"smoke", "paper"}
    out : path, optional
        Output folder (default ``runs/studies/<ID>-<size>``).
    overwrite, resume : bool
        Replace an existing output folder, or continue its unfinished runs.
    platform : str, optional
        OpenMM platform for the MD runs (default: each config's ``simulation.platform``).
    continue_from : path, optional
        A state saved by :func:`save_study_state` (here or on another machine): unpacked
        into the empty (or absent) ``out``, then the study resumes there.
    only : sequence of str, optional
        Run (or resume) just these configs of the size, by file stem (``"lone_dme_0.8nm"``);
        the others are neither run nor read, and the summary lists only these (default:
        every config). What a batch job that cannot fit the whole size needs: run the
        configs in separate jobs, then once more with all of them and ``resume`` to write
        the summary of the whole size.

    Returns
    -------
    dict of str to Path
        Every file the study wrote by name; its summary under :data:`STUDY_FILE`.

    Raises
    ------
    ConfigError
        Unknown study or size (the message lists what exists).
        A name in ``only`` that is not a config of the size (nothing is written).
    RunDirectoryError
        ``out`` holds a study and neither ``overwrite`` nor ``resume`` was given.
    """
    study, folder, folder_out = _resolve(study_id, size, out)
    if only is not None:
        configs(folder, only)  # refuses an unknown name before anything is written
    if continue_from is not None:
        if overwrite:
            raise ConfigError("--continue and --overwrite: a continued study keeps what the "
                              "saved state holds; give one of them", "--continue")
        unpack_state(Path(continue_from), folder_out, study.id, size)
        resume = True
    if StudyResult.file_in(folder_out).exists() and not (overwrite or resume):
        raise RunDirectoryError(f"--out: {folder_out} already holds study {study.id} ({size}); "
                                f"use --resume to continue it or --overwrite to replace it")
    opts = {"study": study.id, "size": size, "overwrite": overwrite, "resume": resume,
            "platform": platform, "configs": None if only is None else list(only)}
    return study.runner(folder, folder_out, opts)


#: Row values longer than this (characters) are sentences, printed below the table.
_SENTENCE_CHARS = 40


def format_study(study: StudyResult, max_rows: int = 60) -> str:
    """A study's summary for the terminal: its rows as a table (numbers to 4 significant
    figures), then every sentence (row verdicts, then the study's other verdicts)."""
    rows = study.rows
    head = f"Study {study.study} ({study.size}): {len(rows)} rows"
    if not rows:
        return "\n".join([head, *(v.sentence for v in study.verdicts)])
    # "seed" in these files means the paper a study reproduces, not a random seed
    df = pd.DataFrame(rows).rename(columns=lambda c: c.replace("seed_", "paper_")
                                   if c.startswith("seed_") else c)
    long = [c for c in df.columns
            if df[c].map(lambda v: isinstance(v, str) and len(v) > _SENTENCE_CHARS).any()]
    table = df.drop(columns=long).head(max_rows).to_string(
        index=False, line_width=100, float_format=lambda x: f"{x:.4g}")
    lines = [head, table]
    if len(df) > max_rows:
        lines.append(f"... {len(df) - max_rows} more rows in {STUDY_FILE}")
    key = df.columns[0]
    printed = set()
    for c in long:
        for _, r in df.iterrows():
            if isinstance(r[c], str) and r[c]:
                lines.append(f"{r[key]}: {r[c]}")
                printed.add(r[c])
    lines += [v.sentence for v in study.verdicts if v.sentence not in printed]
    return "\n".join(lines)


def paper_status(study_id: str) -> str:
    """One status line for a study, from its configs and its committed results (the single
    source for the status columns of ``studies/README.md``; checked by a test).

    ``smoke + paper (k of N configs run)`` where ``k`` counts the paper configs whose output
    folder is committed under ``docs/results/studies/<ID>-paper/`` or that its committed
    summary lists as run (a study with one config and a committed summary counts it run);
    ``smoke; paper (N configs) not run`` without a committed result."""
    key = canonical_id(study_id)
    folder = studies_root() / key
    smoke = "smoke" if any((folder / "smoke").glob("*.yaml")) else "no smoke"
    paper = sorted(p.stem for p in (folder / "paper").glob("*.yaml"))
    done = results_root() / f"{key}-paper"
    if not StudyResult.file_in(done).is_file():
        return f"{smoke}; paper ({len(paper)} configs) not run"
    recorded = set(StudyResult.read(done).what_was_run.configs)
    ran = ([p for p in paper if (done / p).is_dir() or p in recorded]
           or (paper if len(paper) == 1 else []))
    return f"{smoke} + paper ({len(ran)} of {len(paper)} configs run)"
