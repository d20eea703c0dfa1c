"""A PMF folder as one owned object: its layout, a manifest of the physics, a lock, checks.

``predesolv pmf`` writes ordinary run directories (``start/``, ``pull/``, ``windows/wNNN/``)
under one folder. :class:`PMFDir` owns that folder the way :class:`~predesolv.rundir.RunDir`
owns a run:

* **layout**: the names of its parts are spelled here (and in :mod:`.protocol`) only;
* **manifest** (``pmf.json``): the physics every window was made with — system, force field,
  simulation (temperature, time step, friction, seeds, H mass), the start stages, the pull,
  and the PMF's CV, windows, force constants, walls, window stages, sample interval and seed
  source. A rerun whose config changes any of them is refused before any MD, naming each
  changed field with both values and the two ways on (another ``--out``, or ``--overwrite``);
  the estimator settings, the cluster and where/how fast it runs may change freely;
* **lock**: one ``pmf`` per folder for its whole life (pull *and* windows);
* **verification**: a finished window whose ``state.csv`` holds fewer or more rows than its
  progress record is refused by name before its samples reach the estimator.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from predesolv import layout
from predesolv.atomic import atomic_write_text
from predesolv.config import RunConfig
from predesolv.config.compare import adopt_drawn_seeds, config_changes, describe_changes
from predesolv.errors import ConfigError, RunDirectoryBusy, RunDirectoryError
from predesolv.rundir import RunDir
from predesolv.state_archive import PMF, StudyState, save_state, unpack_state

from .protocol import PULL, START, WINDOWS

MANIFEST = "pmf.json"
#: Folder of the replicas beyond the first (``pmf.replicas``).
REPLICAS = "replicas"
PULL_CSV = "pull.csv"
#: The estimate's files (written by predesolv.analysis.pmf_outputs under these names).
PMF_CSV, WINDOWS_CSV, BARRIERS_JSON = "pmf.csv", "windows.csv", "barriers.json"
#: Config fields that do not change what a window computes (beyond
#: :data:`predesolv.config.compare.NOT_PHYSICS`: platform, precision, devices, threads).
#: More replicas add folders; fewer leave the extra ones out of the estimate.
NOT_WINDOW_PHYSICS = ("output.", "pmf.estimator.", "pmf.cluster.", "pmf.replicas")


class PMFDir:
    """The folder of one PMF (``output.directory`` of a ``pmf`` config, or ``--out``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).absolute()
        self._run = RunDir(self.root)

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def windows(self) -> Path:
        return self.root / WINDOWS

    @property
    def start(self) -> Path:
        """The start run (the config's own stages)."""
        return self.root / START

    @property
    def pull(self) -> Path:
        """The steered pull's run directory."""
        return self.root / PULL

    @property
    def pull_csv(self) -> Path:
        """time, CV, centre and work of the pull."""
        return self.root / PULL_CSV

    @property
    def pmf_csv(self) -> Path:
        return self.root / PMF_CSV

    @property
    def windows_csv(self) -> Path:
        return self.root / WINDOWS_CSV

    @property
    def barriers_json(self) -> Path:
        return self.root / BARRIERS_JSON

    def window_dirs(self) -> list[RunDir]:
        """Every window folder, in window order."""
        return [RunDir(p) for p in sorted(self.windows.glob("w[0-9][0-9][0-9]"))]

    def has_runs(self) -> bool:
        """True when any part of a PMF was written here."""
        return any((self.root / p).exists() for p in (START, PULL, WINDOWS, REPLICAS))

    def replica(self, index: int) -> PMFDir:
        """The folder of replica ``index`` (``pmf.replicas``): this folder for replica 0,
        ``replicas/r<index>/`` below it for the others, each with its own ``start/``,
        ``pull/`` and ``windows/``; the manifest and the lock stay this folder's."""
        return self if index == 0 else PMFDir(self.root / REPLICAS / f"r{index}")

    def save_state(self, archive: str | Path, frozen: list[RunDir] | None = None,
                   seeded: list[RunDir] | None = None) -> StudyState:
        """Pack this folder into ``archive`` (``.tar.xz``) for :meth:`unpack` on another
        machine or day (:mod:`predesolv.state_archive`): finished windows without their
        trajectories (the estimate reads ``state.csv``) and checkpoints but the newest XML;
        the finished windows in ``frozen`` without that XML and their final state either
        (they cannot be extended after; :func:`~.extension.save_pmf_state` picks them);
        the finished pulls in ``seeded`` (every window they seed written) without their
        trajectories.
        Nothing runs; the folder's lock is held while packing.

        Raises
        ------
        ConfigError
            ``archive`` does not end in ``.tar.xz``.
        RunDirectoryError
            No PMF here, or a pmf is writing it.
        """
        if not self.manifest.is_file():
            raise RunDirectoryError(f"--save-state: {self.root} holds no PMF (no {MANIFEST}); "
                                    f"give the folder of a pmf run with --out")
        with self.locked():
            return save_state(self.root, Path(archive).absolute(), PMF, PMF,
                              windows_digested=True,
                              frozen=[d.path for d in frozen or []],
                              seeded=[d.path for d in seeded or []])

    def unpack(self, archive: str | Path) -> StudyState:
        """Unpack a :meth:`save_state` archive into this (empty or absent) folder.

        Raises
        ------
        RunDirectoryError
            Not a PMF state, or this folder is not empty.
        """
        return unpack_state(Path(archive), self.root, PMF, PMF)

    @contextmanager
    def locked(self) -> Iterator[PMFDir]:
        """Hold the PMF's lock for the body (a second ``pmf`` on this folder is refused)."""
        try:
            with self._run.locked():
                yield self
        except RunDirectoryBusy as exc:
            raise RunDirectoryError(
                f"pmf: {self.root} is being written by another predesolv pmf ({exc.holder}); "
                f"wait for it to finish or use another --out") from None

    def claim(self, cfg: RunConfig, overwrite: bool, extend: bool = False,
              only_short: bool = False) -> str | None:
        """Check ``cfg`` against the manifest (or write it for a new folder). Returns a
        note for the user: a folder written before manifests existed (recorded now,
        unchecked), or the extension ``extend`` made.

        Parameters
        ----------
        overwrite : bool
            Clear the folder first (a new PMF in its place).
        extend : bool
            Allow one change: a longer last window stage (``pmf.stages[-1].duration``); the
            manifest then takes the new length and records the extension in its
            ``history``.
        only_short : bool
            With ``extend``: only some windows will run longer (``--only-short``); the
            manifest keeps its length and :meth:`record_extension` records which windows
            ran to the new one.

        Raises
        ------
        ConfigError
            The physics changed (every changed field named, with both values); with
            ``extend``, any change but a longer last window stage.
        """
        if overwrite and self.has_runs():  # everything but the lock held and the log
            for p in self.root.iterdir():
                if p.is_dir():
                    shutil.rmtree(p)
                elif p.name not in (layout.LOCK, layout.LOG):
                    p.unlink()
        if not self.manifest.is_file():
            legacy = self.has_runs()
            self._write_manifest(cfg, [])
            return (f"{self.root} was written before PMF folders recorded their physics "
                    f"({MANIFEST}): its existing windows could not be checked against this "
                    f"config; recorded it now") if legacy else None
        record = json.loads(self.manifest.read_text())
        stored = RunConfig.model_validate(record["config"])
        adopt_drawn_seeds(cfg, stored)
        changed = config_changes(stored, cfg, ignore=NOT_WINDOW_PHYSICS)
        if not changed:
            return None
        if extend and _is_extension(stored, cfg, changed):
            step = _extension_record(stored, cfg, changed[0])
            if only_short:
                return (f"extending the windows below the sample gate from {step['from']} to "
                        f"{step['to']} (the others keep their length; recorded in {MANIFEST})")
            self._write_manifest(cfg, [*record.get("history", []), step])
            return (f"extending every window's {changed[0]} from {step['from']} to "
                    f"{step['to']} (recorded in {MANIFEST})")
        hint = (" (--extend allows only a longer last window stage, "
                f"{_last_duration(stored)})" if extend else
                f"; to sample longer, change only {_last_duration(stored)} and add --extend")
        raise ConfigError(
            f"{self.root} holds a PMF made with other physics: "
            f"{describe_changes(stored, cfg, changed)}. Its windows "
            f"would mix two ensembles. Undo the change, write the new PMF to another "
            f"folder (--out), or replace this one (--overwrite){hint}", "pmf")

    def record_extension(self, cfg: RunConfig, windows: list[str]) -> None:
        """Record in the manifest's ``history`` that ``windows`` (labels) ran to ``cfg``'s
        last window stage while the manifest's own length stays (``--only-short``)."""
        record = json.loads(self.manifest.read_text())
        stored = RunConfig.model_validate(record["config"])
        step: dict[str, str | list[str]] = {
            **_extension_record(stored, cfg, _last_duration(stored)), "windows": windows}
        atomic_write_text(self.manifest, json.dumps(
            {**record, "history": [*record.get("history", []), step]}, indent=1) + "\n")

    def history(self) -> list[dict[str, Any]]:
        """The extensions recorded in the manifest (oldest first; empty for none)."""
        if not self.manifest.is_file():
            return []
        return list(json.loads(self.manifest.read_text()).get("history", []))

    def _write_manifest(self, cfg: RunConfig, history: list[dict[str, str]]) -> None:
        atomic_write_text(self.manifest, json.dumps(
            {"config": cfg.model_dump(mode="json"), "history": history}, indent=1) + "\n")

    def verify(self, rd: RunDir) -> None:
        """Refuse a finished window whose ``state.csv`` does not hold the rows its progress
        record counts (truncated, or appended to by hand)."""
        progress = rd.read_progress()
        if progress is None or progress.latest is None:
            return
        with rd.state.open() as fh:
            rows = sum(1 for _ in fh) - 1
        want = progress.latest.state_rows
        if rows != want:
            raise RunDirectoryError(
                f"pmf: window {rd.path.name} is damaged: its state.csv holds {rows} rows "
                f"where its progress record counts {want}; its samples are not used. Remove "
                f"{rd.path} and run pmf again (the window is rerun)")


def window_label(rd: RunDir) -> str:
    """A window's name in messages: ``w003``, or ``r1/w003`` for a later replica's."""
    above = rd.path.parent.parent
    return f"{above.name}/{rd.path.name}" if above.parent.name == REPLICAS else rd.path.name


def _last_duration(cfg: RunConfig) -> str:
    assert cfg.pmf is not None
    return f"pmf.stages[{len(cfg.pmf.stages) - 1}].duration"


def _is_extension(stored: RunConfig, new: RunConfig, changed: list[str]) -> bool:
    """True when the only change is a longer last window stage (same number of stages)."""
    if stored.pmf is None or new.pmf is None or changed != [_last_duration(stored)]:
        return False
    if len(stored.pmf.stages) != len(new.pmf.stages):
        return False
    old, longer = stored.pmf.stages[-1], new.pmf.stages[-1]
    dt = stored.simulation.timestep
    return bool(getattr(longer, "duration", None) is not None
                and getattr(old, "duration", None) is not None
                and round(longer.duration / dt) > round(old.duration / dt))  # type: ignore


def _extension_record(stored: RunConfig, new: RunConfig, field: str) -> dict[str, str]:
    assert stored.pmf is not None and new.pmf is not None
    return {"field": field, "from": str(stored.pmf.stages[-1].duration),  # type: ignore
            "to": str(new.pmf.stages[-1].duration),  # type: ignore[union-attr]
            "when": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


__all__ = ["BARRIERS_JSON", "MANIFEST", "NOT_WINDOW_PHYSICS", "PMF_CSV", "PULL_CSV", "PMFDir",
           "REPLICAS", "WINDOWS_CSV", "window_label"]
