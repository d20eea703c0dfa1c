"""The run directory: layout, atomic writes, provenance and resume bookkeeping.

Layout (all in one folder)::

    config.yaml        fully resolved config (defaults filled, seeds drawn, paths absolute)
    provenance.json    package versions, platform + properties, seeds, host, command
    system.xml         serialized openmm.System (after hydrogen mass repartitioning)
    topology.pdb       topology + initial positions + box
    metadata.json      atom groups and geometry for analysis
    state.csv          energies, T, volume, density, ns/day (all MD stages)
    trajectory.dcd     production frames (or trajectory.xtc)
    checkpoint.chk     binary OpenMM checkpoint (platform-specific; keeps the RNG stream)
    checkpoint.xml     portable State XML written with every checkpoint
    progress.json      where the last checkpoint stands (stage, step, frames, rows)
    final_state.xml    State XML at the end of the run
    log.txt            one line per stage event
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform as _platform
import shutil
import socket
import struct
import sys
import tempfile
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from predesolv.errors import PredesolvRuntimeError, RunDirectoryError

FILES = {
    "config": "config.yaml",
    "provenance": "provenance.json",
    "system": "system.xml",
    "topology": "topology.pdb",
    "metadata": "metadata.json",
    "state": "state.csv",
    "checkpoint": "checkpoint.chk",
    "checkpoint_xml": "checkpoint.xml",
    "progress": "progress.json",
    "final_state": "final_state.xml",
    "log": "log.txt",
}


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder + ``os.replace``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def package_versions() -> dict[str, str]:
    """Versions of predesolv and the packages that shape its numbers."""
    out = {"python": sys.version.split()[0]}
    for name in ("predesolv", "openmm", "numpy", "mdtraj", "MDAnalysis", "parmed", "pydantic",
                 "pymbar", "openmm-cuda-12"):
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def provenance(extra: dict[str, Any]) -> dict[str, Any]:
    """Provenance record: versions, host, time, command line, plus ``extra``."""
    rec = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "os": _platform.platform(),
        "command": " ".join(sys.argv),
        "versions": package_versions(),
    }
    rec.update(extra)
    return rec


def prepare_new(run_dir: Path, overwrite: bool) -> None:
    """Create ``run_dir`` for a new run, refusing to clobber an existing run.

    Raises
    ------
    RunDirectoryError
        The folder holds a run (finished or not) and ``overwrite`` is False, or it is a
        non-empty folder that is not a predesolv run.
    """
    if run_dir.exists():
        if not run_dir.is_dir():
            raise RunDirectoryError(f"output.directory: {run_dir} exists and is not a folder")
        contents = [p.name for p in run_dir.iterdir()]
        is_run = FILES["config"] in contents or FILES["progress"] in contents
        if contents and not overwrite:
            what = "a predesolv run" if is_run else "files that are not a predesolv run"
            raise RunDirectoryError(
                f"output.directory: {run_dir} already holds {what}; use --resume to continue "
                f"an interrupted run, --overwrite to replace it, or choose another directory"
            )
        if contents and overwrite:
            if not is_run:
                raise RunDirectoryError(
                    f"output.directory: {run_dir} holds files that are not a predesolv run; "
                    f"refusing to delete them even with --overwrite"
                )
            for name in contents:
                p = run_dir / name
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def write_system_files(folder: Path, config_yaml: str, system: Any, topology: Any,
                       positions: Any, metadata: Any) -> None:
    """Write ``config.yaml``, ``system.xml``, ``topology.pdb`` and ``metadata.json``.

    Shared by ``predesolv build`` and the runner, so a built folder and a run directory
    hold the same input files.
    """
    import openmm
    from openmm import app

    atomic_write_text(folder / FILES["config"], config_yaml)
    atomic_write_text(folder / FILES["system"], openmm.XmlSerializer.serialize(system))
    with open(folder / FILES["topology"], "w") as fh:
        app.PDBFile.writeFile(topology, positions, fh, keepIds=True)
    atomic_write_text(folder / FILES["metadata"], metadata.to_json())


def log(run_dir: Path, message: str) -> None:
    """Append a timestamped line to ``log.txt``."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(run_dir / FILES["log"], "a") as fh:
        fh.write(f"{stamp} {message}\n")


def truncate_state_csv(path: Path, rows: int) -> None:
    """Keep the header and the first ``rows`` data rows of ``state.csv``."""
    lines = path.read_text().splitlines(keepends=True) if path.exists() else []
    if not lines:
        raise PredesolvRuntimeError(f"{path} is missing or empty; cannot resume")
    if len(lines) - 1 < rows:
        raise PredesolvRuntimeError(
            f"{path} has {len(lines) - 1} rows but the checkpoint expects {rows}; the run "
            f"directory is inconsistent, cannot resume (rerun with --overwrite)"
        )
    atomic_write_text(path, "".join(lines[: rows + 1]))


def truncate_dcd(path: Path, frames: int) -> None:
    """Cut a DCD file written by OpenMM back to its first ``frames`` frames.

    The header's frame count (offset 8) and last-step field (offset 20) are rewritten.
    """
    with open(path, "r+b") as fh:
        head = fh.read(100)
        if len(head) < 100 or head[4:8] != b"CORD":
            raise PredesolvRuntimeError(f"{path} is not a DCD file; cannot resume")
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
            raise PredesolvRuntimeError(
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
        raise PredesolvRuntimeError(
            f"{path} holds {len(xyz)} frames but the checkpoint expects {frames}; cannot resume"
        )
    tmp = path.with_name(f".{path.name}.tmp")
    with XTCTrajectoryFile(str(tmp), "w") as xf:
        if frames:
            xf.write(xyz, time=time, step=step, box=box)
    os.replace(tmp, path)
