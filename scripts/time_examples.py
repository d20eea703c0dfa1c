"""Time the examples whose run time the docs state, and record it in docs/results/timings.json.

README's first command runs ``examples/default.yaml``; ``docs/free_energy.md`` and the example
itself state the time of ``examples/pmf_slit_0.8nm.yaml``. This script runs each as a user
would (``predesolv run`` / ``predesolv pmf`` in a fresh process, into a temporary folder) and
records wall time, CPU time of the process tree, the machine's core count and the date. The
docs quote these numbers; ``tests/test_docs_status.py`` checks that they do.

Run: ``python scripts/time_examples.py [--only default]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "timings.json"
EXAMPLES = {
    "default": ["run", "examples/default.yaml"],
    "pmf_slit_0.8nm": ["pmf", "examples/pmf_slit_0.8nm.yaml"],
}


def _time(verb_args: list[str], out: Path) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "predesolv", *verb_args, "--out", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(EXAMPLES), action="append")
    args = ap.parse_args()
    data = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name in args.only or list(EXAMPLES):
        with tempfile.TemporaryDirectory() as tmp:
            t = _time(EXAMPLES[name], Path(tmp) / name)
        data[name] = {"command": "predesolv " + " ".join(EXAMPLES[name]), **t,
                      "cores": os.cpu_count(), "date": dt.date.today().isoformat()}
        print(name, data[name])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
