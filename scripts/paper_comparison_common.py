"""What the two paper_comparison modules share: where the committed results are and how a
study's summary, a CSV or a JSON file is read from there (scripts/paper_comparison.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from predesolv.studies.result import StudyResult

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"
TOL_EV = 0.05


def load_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def pm(x: float | None, e: float | None, fmt: str = ".2f") -> str:
    if x is None:
        return "—"
    return f"{x:{fmt}}" if e is None else f"{x:{fmt}} ± {e:{fmt}}"


def committed(study: str) -> StudyResult | None:
    """A study's committed paper-size summary (None if absent)."""
    folder = RESULTS / "studies" / f"{study}-paper"
    return StudyResult.read(folder) if StudyResult.file_in(folder).is_file() else None


def section_head(study: str, title: str) -> tuple[StudyResult | None, list[str]]:
    """A study's committed paper-size summary (None if absent) and the opening lines of its
    section (with a "not run yet" line when there is no output)."""
    st = committed(study)
    out = [f"## {study} — {title}", ""]
    if st is None:
        out += [f"Not run yet (`predesolv study {study} --size paper`).", ""]
    return st, out


def read_csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def configs_not_run(sid: str, key: str = "config") -> list[str]:
    """Paper configs of study ``sid`` that its committed summary has no row for."""
    st = committed(sid)
    configs = sorted(p.stem for p in (ROOT / "studies" / sid / "paper").glob("*.yaml"))
    return [c for c in configs if st is None or c not in {r[key] for r in st.rows}]

