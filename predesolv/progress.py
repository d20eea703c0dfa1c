"""A progress file: one JSON object per line, appended after every finished unit of work, so
an interrupted 0 K study (E0's added atoms, E5-MLIP's NEBs) resumes where it stopped.

Every record carries ``model`` and ``wall_s`` (the unit's wall time, s); the owners
(:class:`predesolv.workflows.pore_filling.FillLog`,
:class:`predesolv.studies.e5_mlip.MigrationLog`) add their own typed fields.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ProgressLog:
    """The JSON-lines file at ``path`` (created on the first append)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record (the file is closed after every line)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        """Every record, in the order written (empty when there is no file)."""
        if not self.path.is_file():
            return []
        return [json.loads(x) for x in self.path.read_text().splitlines() if x.strip()]

    def wall_s(self, model: str) -> float | None:
        """Summed wall time of ``model``'s records (s); None when it has none, or when one
        lacks a time (written before times were recorded)."""
        times = [r.get("wall_s") for r in self.records() if r["model"] == model]
        if not times or any(t is None for t in times):
            return None
        return float(sum(float(t) for t in times if t is not None))
