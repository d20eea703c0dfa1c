"""``provenance.json``: what made a run (versions, git commit, host, platform, threads)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform as _platform
import socket
import subprocess
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from predesolv.atomic import atomic_write_json

_PACKAGES = ("predesolv", "openmm", "numpy", "mdtraj", "MDAnalysis", "parmed", "pydantic",
             "pymbar", "packmol", "openmm-cuda-12")


def package_versions() -> dict[str, str]:
    """Versions of predesolv and the packages that shape its numbers."""
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return out


def git_commit() -> str | None:
    """Commit of the predesolv source tree (with ``+dirty`` if modified), or None when the
    package is not installed from a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def platform_properties(context: Any) -> dict[str, str]:
    """Properties the platform of an ``openmm.Context`` actually uses (read back from it)."""
    plat = context.getPlatform()
    return {name: plat.getPropertyValue(context, name) for name in plat.getPropertyNames()}


def provenance(extra: dict[str, Any]) -> dict[str, Any]:
    """Provenance record: versions, git commit, host, CPU count, time, command, plus ``extra``."""
    rec: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "os": _platform.platform(),
        "cpu_count": os.cpu_count(),
        "command": " ".join(sys.argv),
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    rec.update(extra)
    return rec


def record_platform_properties(path: Path, context: Any, resumed: bool) -> dict[str, str]:
    """Add the properties ``context``'s platform really uses to ``provenance.json`` at
    ``path`` (one entry per session: a resumed run may run on another device)."""

    used = platform_properties(context)
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return used
    rec["platform_properties_used"] = used
    rec.setdefault("sessions", []).append({
        "platform": context.getPlatform().getName(), "properties": used, "resumed": resumed})
    atomic_write_json(path, rec)
    return used
