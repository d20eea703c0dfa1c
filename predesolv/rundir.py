"""The run directory: one owner (:class:`RunDir`) for its files, its lock and its progress.

File names are in :mod:`predesolv.layout`. :class:`RunDir` alone creates, locks, writes and
reads a run directory; the runner asks it for paths and records, the CLI only chooses a new
run or a resume.

Locking
-------
A run holds an exclusive ``flock`` on ``RUN_DIR/.lock`` for its whole life (build, inputs,
MD). The kernel drops the lock when the process dies, so ``kill -9`` never leaves a stale
lock; the file holds the holder's PID, host and start time for the refusal message. A second
writer (a second ``run``, ``--resume`` or ``--overwrite`` of a live run, a retried Dask task
while the first worker still writes) is refused with exit status 2.

On cluster file systems: Linux NFS clients (kernel ≥ 2.6.12) implement ``flock`` as a
whole-file POSIX lock that the server arbitrates (NLM for NFSv3, built into NFSv4), so the
lock is exclusive across nodes. It is *not* when the file system is mounted with ``nolock``
or ``local_lock=flock``/``all`` (then it only excludes processes on the same node), and on
Lustre only with the ``flock`` mount option (``localflock`` is node-local). After a node
crash an NFSv4 server frees the lock when the client's lease expires (typically 90 s).

Checkpoints
-----------
Every checkpoint is a binary OpenMM checkpoint (keeps the Langevin random stream) plus a
portable State XML, written atomically. ``progress.json`` records, for the newest and the
previous checkpoint, the stage/step, the ``state.csv`` rows and trajectory frames at that
instant, and each file's size and SHA-256. Resume trusts a file only if both match, and falls
back from the binary to the XML of the same checkpoint, then to the previous checkpoint.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import shutil
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from predesolv import layout, runlog
from predesolv.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    current_umask,
    sha256_bytes,
)
from predesolv.config import load_config
from predesolv.errors import PredesolvRuntimeError, RunDirectoryBusy, RunDirectoryError
from predesolv.system_files import load_files

PROGRESS_VERSION = 2


# ------------------------------------------------------------------------------ progress
@dataclass(frozen=True)
class Checkpoint:
    """One restart point: where the run stood and the two files that hold its state."""

    stage_index: int
    stage: str
    stage_step: int
    stage_complete: bool
    global_step: int
    time_ps: float
    has_velocities: bool
    state_rows: int
    frames: int
    chk: str
    xml: str
    chk_size: int | None = None
    chk_sha256: str | None = None
    xml_size: int | None = None
    xml_sha256: str | None = None
    platform: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Checkpoint:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Progress:
    """The progress record (``progress.json``): newest checkpoint first, then its predecessor."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    completed: bool = False

    @property
    def latest(self) -> Checkpoint | None:
        """Newest checkpoint (None before the first one)."""
        return self.checkpoints[0] if self.checkpoints else None

    def to_dict(self) -> dict[str, Any]:
        return {"version": PROGRESS_VERSION, "completed": self.completed,
                "checkpoints": [asdict(c) for c in self.checkpoints]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Progress:
        """Read the current format, or the flat record of predesolv 0.1 (no hashes)."""
        if "checkpoints" in d:
            return cls([Checkpoint.from_dict(c) for c in d["checkpoints"]],
                       bool(d.get("completed", False)))
        old = Checkpoint(
            stage_index=int(d["stage_index"]), stage=str(d["stage"]),
            stage_step=int(d["stage_step"]), stage_complete=bool(d["stage_complete"]),
            global_step=int(d["global_step"]), time_ps=float(d.get("time_ps", 0.0)),
            has_velocities=bool(d.get("has_velocities", False)),
            state_rows=int(d.get("state_rows", 0)), frames=int(d.get("frames", 0)),
            chk=str(d["checkpoint"]), xml=str(d["checkpoint_xml"]),
            platform=str(d.get("platform", "")))
        return cls([old], bool(d.get("completed", False)))


# ------------------------------------------------------------------------------- the dir
class RunDir:
    """A predesolv run directory (layout in :mod:`predesolv.layout`).

    Parameters
    ----------
    path : str or Path
        The folder (``~`` is expanded).
    """

    def __init__(self, path: str | Path):
        self.path = Path(os.path.expanduser(str(path)))
        self._lock_fd: int | None = None
        self._created = False
        self._log_handler: runlog.RunLogHandler | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # -------------------------------------------------------------- names
    config = property(lambda self: self.path / layout.CONFIG)
    provenance = property(lambda self: self.path / layout.PROVENANCE)
    system = property(lambda self: self.path / layout.SYSTEM)
    topology = property(lambda self: self.path / layout.TOPOLOGY)
    metadata = property(lambda self: self.path / layout.METADATA)
    state = property(lambda self: self.path / layout.STATE)
    progress = property(lambda self: self.path / layout.PROGRESS)
    final_state = property(lambda self: self.path / layout.FINAL_STATE)
    log_file = property(lambda self: self.path / layout.LOG)
    checkpoints = property(lambda self: self.path / layout.CHECKPOINTS)

    def trajectory(self, fmt: str) -> Path:
        """Path of the trajectory in format ``fmt``."""
        return self.path / layout.trajectory_name(fmt)

    def trajectories(self) -> list[Path]:
        """The trajectory files present (DCD, then XTC; none for a run without a production
        stage, or whose trajectory was left out of a packed study state)."""
        return [self.path / n for n in layout.TRAJECTORIES if (self.path / n).is_file()]

    # -------------------------------------------------------------- packed state
    @property
    def left_out_file(self) -> Path:
        return self.path / layout.LEFT_OUT

    def left_out(self) -> list[str]:
        """The files (relative paths) a packed state left out of this run, as recorded when
        it was unpacked (:mod:`predesolv.state_archive`); empty for an ordinary run."""
        if not self.left_out_file.is_file():
            return []
        try:
            names = json.loads(self.left_out_file.read_text())["left_out"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise RunDirectoryError(f"{self.left_out_file} is damaged ({type(exc).__name__}); "
                                    f"unpack the saved state again") from None
        return [str(n) for n in names]

    def record_left_out(self, names: list[str], archive: str) -> None:
        """Record that ``names`` (relative paths) were left out of the packed ``archive``
        this run was unpacked from; a missing trajectory named here is not an error."""
        atomic_write_text(self.left_out_file, json.dumps(
            {"archive": archive, "left_out": sorted(names)}, indent=1) + "\n")

    def trajectory_left_out(self, fmt: str) -> bool:
        """The trajectory in format ``fmt`` was left out of a packed state (not lost)."""
        return layout.trajectory_name(fmt) in self.left_out()

    # -------------------------------------------------------------- state
    def exists(self) -> bool:
        return self.path.is_dir()

    def has_inputs(self) -> bool:
        """Whether every input file is present (written before any MD): a run, not debris."""
        return all((self.path / n).is_file() for n in layout.INPUT_FILES)

    def is_build(self) -> bool:
        """Whether the folder holds the output of ``predesolv build`` (no run yet)."""
        try:
            return json.loads(self.provenance.read_text()).get("kind") == "build"
        except (OSError, ValueError, AttributeError):
            return False

    def has_any_run_file(self) -> bool:
        return any((self.path / n).exists() for n in (*layout.INPUT_FILES, layout.PROGRESS))

    # -------------------------------------------------------------- lock
    @contextmanager
    def locked(self) -> Iterator[RunDir]:
        """Hold the run's exclusive lock (creating the folder if needed) for the ``with`` body.

        A folder this call created is removed again if the body raises before writing
        anything but the lock file, so a refused run leaves nothing behind.

        Raises
        ------
        RunDirectoryError
            Another live process holds the lock (its PID and host are named), or the folder
            cannot be created.
        """
        self.acquire()
        try:
            yield self
        except BaseException:
            self.release(cleanup=True)
            raise
        self.release()

    def acquire(self) -> None:
        """Create the folder if needed and take the lock (see :meth:`locked`)."""
        if self._lock_fd is not None:
            return
        self._created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / layout.LOCK, os.O_RDWR | os.O_CREAT, 0o666 & ~current_umask())
        except OSError as exc:
            raise RunDirectoryError(
                f"output.directory: cannot create {self.path} ({exc.strerror or exc}); choose a "
                f"writable folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _lock_holder(fd)
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunDirectoryError(f"output.directory: cannot lock {self.path} ({exc})"
                                        ) from None
            raise RunDirectoryBusy(
                f"output.directory: {self.path} is in use by another predesolv process "
                f"({holder}); wait for it to finish or stop it, or choose another directory",
                holder) from None
        stamp = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on host {socket.gethostname()} since {stamp}\n"
                  .encode(), 0)
        self._lock_fd = fd
        self._log_handler = runlog.attach(self.log_file, self.path)

    def release(self, cleanup: bool = False) -> None:
        """Drop the lock; with ``cleanup``, remove a folder this object created and left empty."""
        if self._lock_fd is None:
            return
        fd, self._lock_fd = self._lock_fd, None
        if self._log_handler is not None:
            runlog.detach(self._log_handler)
            self._log_handler = None
        if cleanup and self._created:
            others = [p for p in self.path.iterdir() if p.name != layout.LOCK]
            if not others:
                (self.path / layout.LOCK).unlink(missing_ok=True)
                os.close(fd)
                self.path.rmdir()
                return
        os.close(fd)

    def live_holder(self) -> str | None:
        """Who holds this run's lock right now (``pid ... on host ... since ...``), or None
        when no live process writes it. Reads only; creates nothing."""
        lock = self.path / layout.LOCK
        if self._lock_fd is not None or not lock.is_file():
            return None
        try:
            fd = os.open(lock, os.O_RDONLY)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _lock_holder(fd)
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    @property
    def is_locked_by_me(self) -> bool:
        return self._lock_fd is not None

    # -------------------------------------------------------------- new run
    def clear_for_new_run(self, overwrite: bool, field: str = "output.directory",
                          hint: str = "use --resume to continue it, --overwrite to replace it"
                          ) -> None:
        """Empty the (locked) folder for a new run, refusing to clobber a run or foreign files.

        A folder whose input files are incomplete (a run that died while writing them) is not
        a run yet: its predesolv files are replaced without ``--overwrite``. A folder written
        by ``predesolv build`` counts as occupied.

        Raises
        ------
        RunDirectoryError
            The folder holds a run and ``overwrite`` is False, or files that are not a run.
        """
        if not self.is_locked_by_me:
            raise PredesolvRuntimeError("internal error: clear_for_new_run without the lock")
        contents = [p for p in self.path.iterdir() if p.name != layout.LOCK]
        if not contents:
            return
        if not self.has_any_run_file():
            raise RunDirectoryError(
                f"{field}: {self.path} holds files that are not a predesolv run; refusing to "
                f"touch them; choose another directory")
        if (self.has_inputs() or self.is_build()) and not overwrite:
            what = "build" if self.is_build() else "run"
            raise RunDirectoryError(
                f"{field}: {self.path} already holds a predesolv {what}; {hint}, or choose "
                f"another directory")
        for p in contents:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()

    def write_inputs(self, config_yaml: str, system: Any, topology: Any, positions: Any,
                     metadata: Any, provenance: dict[str, Any] | None = None,
                     state_header: str | None = None) -> None:
        """Write the input files; ``state.csv`` (the header) last, so that a folder holding
        it holds all inputs (:meth:`has_inputs`)."""
        import openmm
        from openmm import app

        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.config, config_yaml)
        atomic_write_text(self.system, openmm.XmlSerializer.serialize(system))
        buf = _PdbBuffer()
        app.PDBFile.writeFile(topology, positions, buf, keepIds=True)
        atomic_write_text(self.topology, buf.text())
        atomic_write_text(self.metadata, metadata.to_json() if hasattr(metadata, "to_json")
                          else json.dumps(metadata, indent=2, allow_nan=False) + "\n")
        if provenance is not None:
            atomic_write_json(self.provenance, provenance)
        if state_header is not None:
            atomic_write_text(self.state, state_header)

    # -------------------------------------------------------------- reading back
    def load_config(self) -> Any:
        """The run's resolved :class:`~predesolv.config.RunConfig` (``config.yaml``)."""

        return load_config(self.config)

    def load_built(self) -> Any:
        """The run's :class:`~predesolv.built.BuiltSystem` exactly as it was run (masses
        already repartitioned)."""
        return load_files(str(self.system), str(self.topology), str(self.metadata))

    def is_complete(self) -> bool:
        """The run holds its inputs and its progress record says every stage finished."""
        progress = self.read_progress() if self.has_inputs() else None
        return bool(progress is not None and progress.completed)

    def read_progress(self) -> Progress | None:
        """The progress record, or None before the first checkpoint.

        Raises
        ------
        RunDirectoryError
            The file exists but is not a readable progress record.
        """
        if not self.progress.is_file():
            return None
        try:
            return Progress.from_dict(json.loads(self.progress.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise RunDirectoryError(
                f"{self.progress} is damaged ({type(exc).__name__}: {str(exc)[:80]}); the run "
                f"cannot be resumed safely: rerun with --overwrite") from None

    def write_progress(self, progress: Progress) -> None:
        atomic_write_json(self.progress, progress.to_dict())

    # -------------------------------------------------------------- checkpoints
    def write_checkpoint_files(self, global_step: int, chk: bytes, xml: str
                               ) -> dict[str, Any]:
        """Write one checkpoint pair atomically; return names, sizes and hashes."""
        chk_name, xml_name = layout.checkpoint_names(global_step)
        self.checkpoints.mkdir(exist_ok=True)
        xml_bytes = xml.encode("utf-8")
        atomic_write_bytes(self.path / chk_name, chk)
        atomic_write_bytes(self.path / xml_name, xml_bytes)
        return {"chk": chk_name, "xml": xml_name, "chk_size": len(chk),
                "chk_sha256": sha256_bytes(chk), "xml_size": len(xml_bytes),
                "xml_sha256": sha256_bytes(xml_bytes)}

    def read_verified(self, name: str, size: int | None, digest: str | None
                      ) -> tuple[bytes | None, str]:
        """Bytes of a checkpoint file if it matches its record, else None and the reason.

        A record without a hash (predesolv 0.1) is accepted if the file exists; the reason
        then says so.
        """
        path = self.path / name
        try:
            data = path.read_bytes()
        except OSError as exc:
            return None, f"{name}: {exc.strerror or exc}"
        if size is None or digest is None:
            return data, f"{name}: no size/hash recorded (older predesolv), not verified"
        if len(data) != size:
            return None, f"{name}: {len(data)} bytes, {size} recorded (truncated or changed)"
        if sha256_bytes(data) != digest:
            return None, f"{name}: SHA-256 does not match the record (corrupt)"
        return data, ""

    def verified_state(self, ck: Checkpoint) -> Any:
        """The ``openmm.State`` in checkpoint ``ck``'s XML if it verifies, else None (logged)."""
        import openmm

        data, why = self.read_verified(ck.xml, ck.xml_size, ck.xml_sha256)
        if data is None:
            self.log(f"checkpoint check: {why}")
            return None
        try:
            state = openmm.XmlSerializer.deserialize(data.decode("utf-8"))
        except Exception as exc:  # OpenMM raises a bare Exception subclass for bad XML
            self.log(f"checkpoint check: {ck.xml} is not a State XML ({str(exc)[:80]})")
            return None
        return state if isinstance(state, openmm.State) else None

    def remove_stale_checkpoints(self, keep: list[Checkpoint]) -> list[str]:
        """Delete checkpoint files not referenced by ``keep``; return their names."""
        wanted = {n for c in keep for n in (c.chk, c.xml)}
        removed = []
        if self.checkpoints.is_dir():
            for p in self.checkpoints.iterdir():
                rel = f"{layout.CHECKPOINTS}/{p.name}"
                if rel not in wanted and p.is_file():
                    p.unlink()
                    removed.append(rel)
        return removed

    # -------------------------------------------------------------- log
    def log(self, message: str) -> None:
        """Record a run event in ``log.txt`` through :mod:`logging` (see :mod:`predesolv.runlog`).

        While the lock is held the run's handler writes it, together with any predesolv
        warning logged meanwhile; otherwise a handler is attached for this one line. A full
        disk never raises here.
        """
        if self._log_handler is not None or runlog.has_handler(self.path):
            runlog.log_event(self.path, message)
            return
        handler = runlog.attach(self.log_file, self.path)
        try:
            runlog.log_event(self.path, message)
        finally:
            runlog.detach(handler)

    # -------------------------------------------------------------- files cut back on resume
    def truncate_state(self, rows: int) -> int:
        """Keep the header and the first ``rows`` data rows of ``state.csv``; returns the
        number of data rows it held before."""
        return truncate_state_csv(self.state, rows)


def _lock_holder(fd: int) -> str:
    """What the lock file open as ``fd`` says of its holder (``pid N on host H since T``)."""
    return os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "unknown"


class _PdbBuffer:
    """Minimal text sink for ``PDBFile.writeFile`` (so the PDB is written atomically)."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, s: str) -> None:
        self._parts.append(s)

    def text(self) -> str:
        return "".join(self._parts)


def truncate_state_csv(path: Path, rows: int) -> int:
    """Keep the header and the first ``rows`` data rows of ``state.csv``; returns the number
    of data rows the file held before."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    if not lines:
        raise RunDirectoryError(f"{path} is missing or empty; cannot resume (rerun with "
                                f"--overwrite)")
    if len(lines) - 1 < rows:
        raise RunDirectoryError(
            f"{path} has {len(lines) - 1} rows but the checkpoint expects {rows}; the run "
            f"directory is inconsistent, cannot resume (rerun with --overwrite)"
        )
    atomic_write_text(path, "".join(lines[: rows + 1]))
    return len(lines) - 1


def truncate_dcd(path: Path, frames: int) -> None:
    """Cut a DCD file written by OpenMM back to its first ``frames`` frames.

    The header's frame count (offset 8) and last-step field (offset 20) are rewritten.
    """
    with open(path, "r+b") as fh:
        head = fh.read(100)
        if len(head) < 100 or head[4:8] != b"CORD":
            raise RunDirectoryError(f"{path} is not a DCD file; cannot resume")
        n_models, first_step, interval = struct.unpack("<3i", head[8:20])
        has_box = struct.unpack("<i", head[48:52])[0] == 1
        fh.seek(92)
        comments = struct.unpack("<i", fh.read(4))[0]
        fh.seek(104 + comments)
        n_atoms = struct.unpack("<i", fh.read(4))[0]
        header_size = 104 + comments + 8
        frame_size = (56 if has_box else 0) + 3 * (8 + 4 * n_atoms)
        size = os.path.getsize(path)
        complete = (size - header_size) // frame_size
        if complete < frames:
            raise RunDirectoryError(
                f"{path} holds {complete} complete frames but the checkpoint expects {frames}; "
                f"cannot resume (rerun with --overwrite)"
            )
        fh.truncate(header_size + frames * frame_size)
        fh.seek(8)
        fh.write(struct.pack("<i", frames))
        fh.seek(20)
        fh.write(struct.pack("<i", first_step + max(frames - 1, 0) * interval))
        fh.flush()
        os.fsync(fh.fileno())


def truncate_xtc(path: Path, frames: int) -> None:
    """Rewrite an XTC file keeping its first ``frames`` frames (same precision)."""
    from mdtraj.formats import XTCTrajectoryFile

    with XTCTrajectoryFile(str(path), "r") as xf:
        xyz, time, step, box = xf.read(n_frames=frames)
    if len(xyz) < frames:
        raise RunDirectoryError(
            f"{path} holds {len(xyz)} frames but the checkpoint expects {frames}; cannot resume"
        )
    tmp = path.with_name(f".{path.name}.tmp")
    with XTCTrajectoryFile(str(tmp), "w") as xf:
        if frames:
            xf.write(xyz, time=time, step=step, box=box)
    os.replace(tmp, path)
