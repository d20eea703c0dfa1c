"""``StudyResult``: the one typed summary every study writes and every reader reads.

The committed paper-size summaries predate the typed layout; they are read by conversion, and
their numbers are checked here against the raw files (plain ``json.load``) and the CSV tables
next to them, so a conversion that changed a number would fail.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from predesolv.errors import ConfigError, MissingFileError
from predesolv.studies.insertion import PATH_CUTOFFS_NM, RESERVOIR_NM
from predesolv.studies.result import (
    SCHEMA_VERSION,
    STUDY_FILE,
    Quantity,
    RunRecord,
    Seed,
    Setting,
    StudyResult,
    Verdict,
    WhatWasRun,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "studies"
COMMITTED = sorted(p.parent.name for p in RESULTS.glob("*-paper/study.json"))


def _raw(study: str) -> dict:
    return json.loads((RESULTS / f"{study}-paper" / "study.json").read_text())


def _example() -> StudyResult:
    runs = [RunRecord(name="slit_0.6nm", n_windows=17, production_ps=40.0, platform="CPU",
                      threads="1", ns_per_day=17.0),
            RunRecord(name="slit_0.8nm", n_windows=9, production_ps=40.0, production_ps_max=80.0,
                      platform="CUDA", ns_per_day=np.nan)]
    return StudyResult.new(
        "E2", "smoke", WhatWasRun.of("studies/E2/smoke", ["slit_0.6nm", "slit_0.8nm"], runs,
                                     [Setting(name="inside_from", value=0.3, unit="nm"),
                                      Setting(name="n_starts", value=8)], "a slit"),
        seed=Seed(source="a paper", numbers=[Quantity(name="DME_kept", value=1.0, unit="1")]),
        verdicts=[Verdict(name="slit_0.6nm", criterion="one DME enters", sentence="it does",
                          ok=True)],
        numbers=[Quantity(name="dF", subject="slit_0.6nm", value=12.5, uncertainty=0.25,
                          unit="kJ/mol")],
        rows=[{"config": "slit_0.6nm", "x": np.float64(0.5), "n": np.int64(3), "ok": True,
               "gap_nm": (0.1, 0.3), "missing": float("nan"), "text": "long sentence"}],
        files=["insertion.csv"], note="a note")


def test_round_trip_write_read(tmp_path):
    res = _example()
    path = res.write(tmp_path / "out")
    assert path == tmp_path / "out" / STUDY_FILE and path.is_file()
    back = StudyResult.read(tmp_path / "out")
    assert back == res and StudyResult.read(path) == res
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == SCHEMA_VERSION
    assert raw["rows"][0] == {"config": "slit_0.6nm", "x": 0.5, "n": 3, "ok": True,
                              "gap_nm": [0.1, 0.3], "missing": None, "text": "long sentence"}
    # counts, platform and speed summarise the runs; NaN speed is "not measured"
    assert back.what_was_run.n_runs == 2 and back.what_was_run.n_windows == 26
    assert back.platform == "CPU, CUDA" and back.speed_ns_per_day == 17.0
    assert back.what_was_run.runs[1].ns_per_day is None
    assert back.setting("n_starts") == 8 and back.setting("absent") is None
    assert back.number("dF", "slit_0.6nm").uncertainty == 0.25
    assert back.seed is not None and back.seed.number("DME_kept").value == 1.0
    assert back.verdict("slit_0.6nm").ok is True
    with pytest.raises(KeyError, match="dF"):
        back.number("nothing")


@pytest.mark.parametrize("where, key", [((), "colour"), (("what_was_run",), "hosts"),
                                        (("verdicts", 0), "mood"), (("numbers", 0), "error")])
def test_unknown_keys_are_refused_by_name(tmp_path, where, key):
    data = _example().model_dump(mode="json")
    node = data
    for k in where:
        node = node[k]
    node[key] = 1
    (tmp_path / STUDY_FILE).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=rf"{key}: unknown key") as exc:
        StudyResult.read(tmp_path)
    assert isinstance(exc.value, ValueError) and str(tmp_path) in str(exc.value)


def test_inconsistent_counts_and_bad_files_are_refused(tmp_path):
    data = _example().model_dump(mode="json")
    data["what_was_run"]["n_runs"] = 5
    (tmp_path / STUDY_FILE).write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="n_runs"):
        StudyResult.read(tmp_path)
    (tmp_path / STUDY_FILE).write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        StudyResult.read(tmp_path)
    with pytest.raises(MissingFileError):
        StudyResult.read(tmp_path / "nowhere")
    with pytest.raises(ValueError, match=r"size"):  # pydantic.ValidationError
        StudyResult.model_validate({**_example().model_dump(), "size": "huge"})


def test_a_legacy_file_with_an_unknown_key_is_refused(tmp_path):
    raw = _raw("E1")
    raw["colour"] = "blue"
    (tmp_path / STUDY_FILE).write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="colour: unknown key"):
        StudyResult.read(tmp_path)
    (tmp_path / STUDY_FILE).write_text(json.dumps({"study": "E9", "size": "paper"}))
    with pytest.raises(ConfigError, match="not a study summary"):
        StudyResult.read(tmp_path)


def test_every_committed_summary_is_read():
    assert COMMITTED == ["E0-paper", "E1-paper", "E2-paper", "E3-paper", "E4-paper",
                         "E5-MLIP-paper", "E5-paper", "E7-300K-paper", "E7-paper",
                         "E7-search-paper", "E7-xTB-paper"]
    for name in COMMITTED:
        res = StudyResult.read(RESULTS / name)
        raw = _raw(name.removesuffix("-paper"))
        assert res.study == raw["study"] == name.removesuffix("-paper") and res.size == "paper"
        assert res.rows == raw["rows"], name  # every row value carried over exactly
        assert all((RESULTS / name / f).is_file() for f in res.files), name
        # converted and written again in the typed layout: the same object
        assert StudyResult.model_validate_json(res.model_dump_json()) == res


def test_e1_numbers_against_the_raw_file_and_its_table():
    res, raw = StudyResult.read(RESULTS / "E1-paper"), _raw("E1")
    table = pd.read_csv(RESULTS / "E1-paper" / "e1_table.csv").set_index("system")
    assert res.seed is not None and res.seed.source == raw["aimd"]["source"]
    assert res.seed.number("CN_NaO").value == raw["aimd"]["CN_NaO"] == 6.0
    cn = res.number("CN_NaO", "anion_free")
    assert (cn.value, cn.uncertainty) == (raw["rows"][0]["CN_NaO"], raw["rows"][0]["CN_NaO_sem"])
    assert cn.value == pytest.approx(table.loc["anion_free", "CN_NaO"], rel=1e-5)
    assert res.number("DME_per_Na", "napf6_dme").value == pytest.approx(
        table.loc["napf6_dme", "DME_per_Na"], rel=1e-5)
    assert res.note == raw["note"]
    assert [r.production_ps for r in res.what_was_run.runs] == [
        r["production_ps"] for r in raw["rows"]]


def test_e7_and_e7_300k_numbers_against_the_raw_files_and_tables():
    e7, raw = StudyResult.read(RESULTS / "E7-paper"), _raw("E7")
    assert e7.number("E_EC_kJ_per_mol").value == raw["E_EC_kJ_per_mol"]
    assert e7.setting("n_starts") == raw["n_starts"] == 8
    assert e7.setting("charge_scaling") == raw["charge_scaling"]
    assert {r.name: r.wall_s for r in e7.what_was_run.runs} == raw["wall_s"]
    static = pd.read_csv(RESULTS / "E7-paper" / "e7_static.csv")
    gas = static[(static.surface == "gas") & (static.n == 4)].E_desolv_eV.iloc[0]
    assert e7.number("E_desolv_eV", "gas 3->2 EC").value == pytest.approx(gas, rel=1e-5)

    hot, raw = StudyResult.read(RESULTS / "E7-300K-paper"), _raw("E7-300K")
    assert hot.verdict("three_to_two").sentence == raw["three_to_two"]
    runs = {r.name: r for r in hot.what_was_run.runs}
    for s in raw["surfaces"]:
        r = runs[s["surface"]]
        assert (r.n_windows, r.production_ps, r.production_ps_max, r.ns_per_day, r.threads) == (
            s["n_windows"], s["production_ps_per_window"], s["production_ps_max"],
            s["ns_per_day_median"], s["threads"])
    steps = pd.read_csv(RESULTS / "E7-300K-paper" / "e7_300k_steps.csv")
    for _, s in steps.iterrows():
        q = hot.number("dG_eV", f"{s.surface} {s.step}")
        assert q.value == pytest.approx(s.dG_eV, rel=1e-5, abs=1e-9)
        assert q.uncertainty == pytest.approx(s.sigma_eV, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("study", ["E2", "E3", "E4"])
def test_insertion_verdicts_and_runs_against_the_raw_files(study):
    res, raw = StudyResult.read(RESULTS / f"{study}-paper"), _raw(study)
    assert [v.name for v in res.verdicts] == [r["config"] for r in raw["rows"]]
    for v, r in zip(res.verdicts, raw["rows"], strict=True):
        assert (v.criterion, v.sentence, v.ok) == (r["seed"], r["sentence"], r["reproduced"])
        dF = res.number("dF_inside_kJ_per_mol", r["config"]).value
        assert dF == r["dF_inside_kJ_per_mol"] and math.isfinite(dF)
    assert res.what_was_run.n_windows == sum(r["n_windows"] for r in raw["rows"])
    if "schema_version" not in raw:  # a file written before StudyResult: read by conversion
        assert res.setting("path_cutoff_DME") == raw["path_cutoffs_nm"]["DME"]
        assert res.setting("reservoir_to") == raw["reservoir_to_nm"]
    else:  # written by StudyResult: made with the definitions the study uses today
        assert res.setting("path_cutoff_DME") == PATH_CUTOFFS_NM["DME"]
        assert res.setting("reservoir_to") == RESERVOIR_NM


def test_e5_numbers_and_verdicts_against_the_raw_file_and_table():
    res, raw = StudyResult.read(RESULTS / "E5-paper"), _raw("E5")
    table = pd.read_csv(RESULTS / "E5-paper" / "e5_barriers.csv")
    for _, r in table.iterrows():
        q = res.number("barrier_eV", f"{r.forcefield} {r.stacking} {r.spacing_nm}")
        assert q.value == pytest.approx(r.barrier_eV, rel=1e-5) and q.unit == "eV"
    assert {v.name: v.ok for v in res.verdicts} == raw["all_within_0.05_eV"]
    assert {r.name: r.forcefield for r in res.what_was_run.runs} == raw["forcefields"]


def test_the_file_name_is_spelled_only_in_result_py():
    """Every reader and writer goes through StudyResult: no module names the file itself."""
    named = [str(p.relative_to(ROOT)) for d in ("predesolv", "scripts", "analysis")
             for p in (ROOT / d).rglob("*.py")
             if "study.json" in p.read_text() and p.name != "result.py"]
    assert named == []
