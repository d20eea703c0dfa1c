"""log.txt through logging: run events and predesolv warnings reach the locked run's file only."""

from __future__ import annotations

import logging
import re

from predesolv.rundir import RunDir

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_events_and_warnings_reach_only_the_locked_run(tmp_path):
    a, b = RunDir(tmp_path / "a"), RunDir(tmp_path / "b")
    a.acquire()
    b.acquire()
    try:
        a.log("stage one done")
        b.log("other run")
        logging.getLogger("predesolv.analysis.x").warning("low overlap %s", 0.01)
        logging.getLogger("predesolv.analysis.x").info("chatter")  # below WARNING: dropped
    finally:
        a.release()
        b.release()
    lines_a = (tmp_path / "a" / "log.txt").read_text().splitlines()
    assert re.fullmatch(STAMP + " stage one done", lines_a[0])
    # a warning without a run_dir goes to every run that is open: both files hold it
    assert re.fullmatch(STAMP + " WARNING predesolv.analysis.x: low overlap 0.01", lines_a[1])
    assert len(lines_a) == 2
    lines_b = (tmp_path / "b" / "log.txt").read_text().splitlines()
    assert [ln.split(" ", 1)[1] for ln in lines_b] == [
        "other run", "WARNING predesolv.analysis.x: low overlap 0.01"]


def test_log_without_lock_appends_one_line_and_leaves_no_handler(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.log("note one")
    run.log("note two")
    text = (tmp_path / "r" / "log.txt").read_text().splitlines()
    assert [ln.split(" ", 1)[1] for ln in text] == ["note one", "note two"]
    assert not [h for h in logging.getLogger("predesolv").handlers
                if type(h).__name__ == "RunLogHandler"]
    logging.getLogger("predesolv").warning("after release")
    assert len((tmp_path / "r" / "log.txt").read_text().splitlines()) == 2
