"""The docs' status lines agree with the repository: the studies table is
``predesolv.studies.paper_status`` (counted here again from the folders), and no page repeats
a status the committed results contradict."""

from __future__ import annotations

from pathlib import Path

import pytest

from predesolv.studies import paper_status, registry, results_root, studies_root
from predesolv.studies.result import StudyResult

ROOT = Path(__file__).resolve().parent.parent


def _count_by_hand(key: str) -> tuple[int, int]:
    """(paper configs with a committed output folder or listed as run in the committed
    study.json, paper configs), recounted here."""
    paper = list((ROOT / "studies" / key / "paper").glob("*.yaml"))
    done = ROOT / "docs" / "results" / "studies" / f"{key}-paper"
    if not (done / "study.json").exists():
        return 0, len(paper)
    import json

    listed = json.loads((done / "study.json").read_text()).get("what_was_run", {})
    ran = sum((done / p.stem).is_dir() or p.stem in listed.get("configs", []) for p in paper)
    return (ran or (1 if len(paper) == 1 else 0)), len(paper)


@pytest.mark.parametrize("key", sorted(registry()))
def test_studies_table_says_what_was_run(key):
    assert studies_root() == ROOT / "studies" and results_root().is_dir()
    row = next(ln for ln in (ROOT / "studies" / "README.md").read_text().splitlines()
               if ln.startswith(f"| [{key}]({key}/README.md) |"))
    assert row.rstrip(" |").endswith(paper_status(key))
    ran, n = _count_by_hand(key)
    assert (f"({ran} of {n} configs run)" in row) if ran else ("not run" in row)


@pytest.mark.parametrize("page, phrase", [
    ("README.md", "E7 at 300 K not yet"),
    ("README.md", "E2–E4 and E7 at 300 K not yet"),
    ("docs/science.md", "paper size documented, not run"),
    ("CHANGELOG.md", "paper size documented (not run here)"),
    ("studies/README.md", "paper documented, not run"),
])
def test_no_page_repeats_a_contradicted_status(page, phrase):
    e7 = StudyResult.read(ROOT / "docs" / "results" / "studies" / "E7-300K-paper")
    assert e7.study == "E7-300K"  # the paper run is committed, so these phrases are false
    assert phrase not in (ROOT / page).read_text()


def _timing(name: str) -> dict:
    import json

    return json.loads((ROOT / "docs" / "results" / "timings.json").read_text())[name]


def _minutes(text: str, pattern: str) -> float:
    import re

    m = re.search(pattern, text)
    assert m, pattern
    return float(m.group(1))


@pytest.mark.parametrize("page, pattern, example", [
    ("README.md", r"about (\d+(?:\.\d+)?) minutes? on 2 CPU cores", "default"),
    ("examples/default.yaml", r"about (\d+(?:\.\d+)?) minutes?\n# on 2 CPU cores", "default"),
    ("README.md", r"0\.8 nm slit, about (\d+(?:\.\d+)?) min on 2 cores", "pmf_slit_0.8nm"),
    ("docs/free_energy.md", r"about\s+(\d+(?:\.\d+)?) min on 2 CPU cores\), `examples/pmf_na",
     "pmf_slit_0.8nm"),
    ("examples/pmf_slit_0.8nm.yaml", r"about (\d+(?:\.\d+)?) minutes on 2 CPU cores",
     "pmf_slit_0.8nm"),
])
def test_stated_run_times_are_the_measured_ones(page, pattern, example):
    """Every stated run time is within 30 % of the committed measurement
    (scripts/time_examples.py -> docs/results/timings.json, wall time on 2 cores)."""
    t = _timing(example)
    assert t["cores"] == 2
    claimed_s = 60 * _minutes((ROOT / page).read_text(), pattern)
    assert abs(claimed_s - t["wall_s"]) <= 0.3 * t["wall_s"], (page, claimed_s, t)


def test_version_citation_and_changelog_agree():
    import re

    import predesolv

    cff = (ROOT / "CITATION.cff").read_text()
    top = re.search(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})",
                    (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert top is not None
    assert predesolv.__version__ == top.group(1)
    assert f"version: {top.group(1)}" in cff and f"date-released: {top.group(2)}" in cff
