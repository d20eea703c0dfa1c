"""A study's or a PMF folder's small, portable state: what another machine needs to go on.

A paper-size study may not fit one sitting (a 2-core laptop, a cluster job's wall time).
``predesolv study ID --size S --save-state FILE`` (and ``predesolv pmf CONFIG --save-state
FILE`` for one PMF folder) packs the folder into one ``.tar.xz`` archive that leaves out
only what the rest of the work does not need:

* the checkpoints of finished runs except the newest one's portable XML (it is the run's
  final state, so xz stores it almost for free beside ``final_state.xml``, and ``--extend``
  continues a finished window from it; ``final_state.xml`` also stays: it seeds later runs);
* the trajectories of finished umbrella windows, once the study has written the digests its
  outputs read from them (:mod:`predesolv.studies.digest`; a PMF reads no frames); the CV
  samples the free energy comes from are in each window's ``state.csv``, which stays;
* in a PMF folder, a pull's trajectory once every window it seeds holds its start positions
  (``pmf`` reads the pull's frames only to seed windows not yet written);
* run locks.

Everything else stays: configs, systems, ``state.csv`` files, the start runs' trajectories
and those of the pulls still needed to seed windows, the newest checkpoint of every unfinished run
(binary and portable XML: on another platform the runner falls back to the XML). xz
compresses the repeated ``system.xml`` of the windows to almost nothing.

``predesolv study ID --size S --continue FILE`` (``predesolv pmf CONFIG --continue FILE``)
unpacks the archive into an empty output folder and resumes there, on any machine with this
version of predesolv. Each unpacked run that lost files records them in its
``left_out.json`` (:meth:`predesolv.rundir.RunDir.left_out`): a finished window extended
later (``--extend``) resumes from its newest checkpoint's XML (the random stream restarts)
and, its trajectory having been left out, goes on without one: its ``state.csv`` continues,
and what was digested from its frames before stays what frame analyses see.

The archive holds ``STATE.json`` (:class:`StudyState`, the manifest: study, size, versions,
every run and what of it was left out) and the folder's files under their relative paths.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from predesolv import layout
from predesolv.errors import ConfigError, RunDirectoryError
from predesolv.rundir import RunDir
from predesolv.version import __version__

#: The manifest inside every archive.
MANIFEST = "STATE.json"
#: Format version of the archive (bumped when its layout changes).
STATE_FORMAT = 1
#: Suffix of a state archive.
SUFFIX = ".tar.xz"
#: The ``study`` of a packed PMF folder (``predesolv pmf --save-state``).
PMF = "pmf"


@dataclass
class RunEntry:
    """One run directory of the packed study."""

    path: str
    finished: bool
    window: bool
    left_out: list[str] = field(default_factory=list)


@dataclass
class StudyState:
    """The manifest of a packed study state (``STATE.json``)."""

    study: str
    size: str
    predesolv: str = __version__
    format: int = STATE_FORMAT
    created: str = ""
    runs: list[RunEntry] = field(default_factory=list)
    files: int = 0
    bytes_in: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str) -> StudyState:
        """Parse a manifest; a damaged or foreign one is refused (naming ``source``)."""
        try:
            d = json.loads(text)
            runs = [RunEntry(**r) for r in d.pop("runs")]
            state = cls(**d, runs=runs)
        except (ValueError, TypeError, KeyError) as exc:
            raise RunDirectoryError(f"{source}: {MANIFEST} is not a predesolv study state "
                                    f"({type(exc).__name__}: {str(exc)[:80]})") from None
        if state.format != STATE_FORMAT:
            raise RunDirectoryError(f"{source}: study-state format {state.format}; this "
                                    f"predesolv reads format {STATE_FORMAT}")
        return state

    @property
    def left_out(self) -> list[str]:
        """Every file left out, relative to the study folder."""
        return [f"{r.path}/{n}" if r.path != "." else n for r in self.runs for n in r.left_out]


def run_dirs(folder: Path) -> list[RunDir]:
    """Every run directory below ``folder`` (a folder with a run's inputs), sorted."""
    found = {p.parent for p in folder.rglob(layout.CONFIG) if RunDir(p.parent).has_inputs()}
    return [RunDir(p) for p in sorted(found)]


def _is_window(rd: RunDir) -> bool:
    """An umbrella window: a bias that does not move (a pull moves its centre)."""
    cfg = rd.load_config()
    return cfg.bias is not None and getattr(cfg.bias, "pull", None) is None


def _plan(folder: Path, windows_digested: bool, frozen: frozenset[Path] = frozenset(),
          seeded: frozenset[Path] = frozenset()) -> tuple[list[RunEntry], set[Path]]:
    """What of each run to leave out, and the set of files left out (absolute). A finished
    run in ``frozen`` also loses its newest checkpoint XML and ``final_state.xml``; a
    finished run in ``seeded`` (a pull whose windows are all written) its trajectory."""
    entries, skip = [], set()
    for rd in run_dirs(folder):
        holder = rd.live_holder()
        if holder is not None:
            raise RunDirectoryError(f"{rd.path} is being written right now ({holder}); save "
                                    f"the state when the study has stopped")
        fin, win = rd.is_complete(), _is_window(rd)
        out: list[str] = []
        if fin:
            progress = rd.read_progress()
            keep = progress.latest.xml if progress and progress.latest else None
            ck = rd.path / layout.CHECKPOINTS
            if rd.path in frozen:
                keep = None
                out += [layout.FINAL_STATE] if (rd.path / layout.FINAL_STATE).is_file() else []
            out += sorted(n for n in (p.relative_to(rd.path).as_posix() for p in ck.rglob("*")
                                      if p.is_file()) if n != keep)
            if (win and windows_digested) or rd.path in seeded:
                out += [t.name for t in rd.trajectories()]
        entries.append(RunEntry(rd.path.relative_to(folder).as_posix(), fin, win, out))
        skip |= {rd.path / n for n in out}
    return entries, skip


def save_state(folder: Path, archive: Path, study: str, size: str,
               windows_digested: bool, frozen: list[Path] | None = None,
               seeded: list[Path] | None = None,
               state_folder: str | None = None) -> StudyState:
    """Pack the study in ``folder`` into ``archive`` (``.tar.xz``).

    Parameters
    ----------
    folder : Path
        The study's output folder.
    archive : Path
        The file to write (its suffix must be ``.tar.xz``; an existing file is replaced).
    study, size : str
        What the folder holds (recorded; checked when the state is continued).
    windows_digested : bool
        The study has written the digests it reads from its finished windows' trajectories
        (or reads none): those trajectories are left out.
    frozen : list of Path, optional
        Finished runs (absolute paths) that will not be extended: their newest checkpoint
        XML and ``final_state.xml`` are left out too (``pmf --save-state --only-short``).
    seeded : list of Path, optional
        Finished runs (absolute paths) whose trajectories nothing reads any more (a pull
        whose windows all hold their start positions): left out.
    state_folder : str, optional
        A folder of ``folder`` that holds the study's state where it has no run
        directories (E7-search: the minima of its searches, ``parts/``): packed whole, and
        enough to pack a study without runs.

    Returns
    -------
    StudyState
        The manifest written into the archive.

    Raises
    ------
    ConfigError
        ``archive`` does not end in ``.tar.xz``.
    RunDirectoryError
        ``folder`` holds no study runs (nor files in ``state_folder``), or a run in it is
        being written.
    """
    if not str(archive).endswith(SUFFIX):
        raise ConfigError(f"--save-state: {archive} must end in {SUFFIX}", "--save-state")
    entries, skip = _plan(folder, windows_digested, frozenset(frozen or ()),
                          frozenset(seeded or ()))
    own = folder / state_folder if state_folder else None
    if not entries and not (own is not None and own.is_dir()
                            and any(p.is_file() for p in own.rglob("*"))):
        raise RunDirectoryError(f"--save-state: {folder} holds no runs: nothing to save "
                                f"(run the {'PMF' if study == PMF else 'study'} first)")
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and p not in skip
             and p.name != layout.LOCK and "__pycache__" not in p.parts]
    state = StudyState(study, size, created=_dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"), runs=entries, files=len(files),
        bytes_in=sum(p.stat().st_size for p in files))
    archive.parent.mkdir(parents=True, exist_ok=True)
    part = archive.with_name(archive.name + ".part")
    with tarfile.open(part, "w:xz") as tar:
        data = state.to_json().encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime = len(data), int(_dt.datetime.now().timestamp())
        tar.addfile(info, io.BytesIO(data))
        for p in files:
            tar.add(p, arcname=p.relative_to(folder).as_posix(), recursive=False)
    part.replace(archive)
    return state


def read_state(archive: Path) -> StudyState:
    """The manifest of a state archive.

    Raises
    ------
    RunDirectoryError
        Not a readable archive, or no manifest in it.
    """
    try:
        with tarfile.open(archive, "r:xz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            return StudyState.from_json(member.read().decode(), str(archive))
    except (OSError, tarfile.TarError, KeyError, EOFError) as exc:
        raise RunDirectoryError(f"--continue: {archive} is not a predesolv study state "
                                f"({type(exc).__name__}: {str(exc)[:80]})") from None


def _safe_members(tar: tarfile.TarFile, source: Path) -> list[tarfile.TarInfo]:
    """The archive's regular files, refusing absolute paths, ``..`` and links."""
    members = []
    for m in tar.getmembers():
        parts = PurePosixPath(m.name).parts
        if m.name.startswith("/") or ".." in parts or not (m.isfile() or m.isdir()):
            raise RunDirectoryError(f"--continue: {source} holds {m.name!r}, which a study "
                                    f"state never does (an absolute path, '..' or a link); "
                                    f"not unpacked")
        if m.isfile() and m.name != MANIFEST:
            members.append(m)
    return members


def unpack_state(archive: Path, folder: Path, study: str, size: str) -> StudyState:
    """Unpack ``archive`` into the empty (or absent) ``folder`` for study ``study``/``size``.

    Raises
    ------
    RunDirectoryError
        The archive holds another study or size, or ``folder`` is not empty.
    """
    state = read_state(archive)
    if (state.study, state.size) != (study, size):
        raise RunDirectoryError(f"--continue: {archive} holds study {state.study} "
                                f"({state.size}), not {study} ({size})")
    if folder.exists() and any(folder.iterdir()):
        raise RunDirectoryError(f"--out: {folder} is not empty; continue a saved state into "
                                f"an empty folder (or continue the folder itself: "
                                f"{'the same pmf command' if study == PMF else '--resume'})")
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:xz") as tar:
        for m in _safe_members(tar, archive):
            src = tar.extractfile(m)
            assert src is not None
            dest = folder / m.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(src.read())
    for run in state.runs:
        if run.left_out:
            RunDir(folder / run.path).record_left_out(run.left_out, archive.name)
    return state


def describe(state: StudyState, archive: Path) -> str:
    """One paragraph for the terminal: what was saved and left out, and how to continue."""
    runs = len(state.runs)
    again = ("predesolv pmf CONFIG --out NEW_FOLDER --continue" if state.study == PMF else
             f"predesolv study {state.study} --size {state.size} --continue")
    if not runs:  # a study whose state is not MD runs (E7-search's parts)
        return (f"saved study {state.study} ({state.size}): no MD runs, {state.files} files "
                f"(nothing left out), {state.bytes_in / 1e6:.2f} MB -> {archive} "
                f"({archive.stat().st_size / 1e6:.2f} MB). Continue anywhere with: {again} "
                f"{archive}")
    done = sum(r.finished for r in state.runs)
    traj = sum(any(n.startswith("trajectory.") for n in r.left_out) for r in state.runs)
    frozen = sum(layout.FINAL_STATE in r.left_out for r in state.runs)
    what = ("PMF folder" if state.study == PMF else
            f"study {state.study} ({state.size})")
    return (f"saved {what}: {runs} runs ({done} finished), "
            f"{state.files} files, {state.bytes_in / 1e6:.1f} MB -> {archive} "
            f"({archive.stat().st_size / 1e6:.2f} MB); left out: the checkpoints of finished "
            f"runs but their newest XML, and {traj} finished runs' trajectories"
            + (f"; {frozen} windows at or above the sample gate lost their final state too "
               f"and cannot be extended" if frozen else "")
            + f". Continue anywhere with: {again} {archive}")
