"""Benchmark: `predesolv barrier-scan` for the four spacings x AA/AB (examples/barrier_scan.yaml).

Prints the table and the wall time of the whole call (build, OpenMM fit, grid, checks).

    .venv/bin/python scripts/bench_barrier_scan.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from predesolv.config.barrier import BarrierScanConfig
from predesolv.config.loader import load_model
from predesolv.workflows.barrier_output import format_table
from predesolv.workflows.barrier_scan import run_barrier_scan

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "barrier_scan.yaml"


def main() -> None:
    cfg = load_model(EXAMPLE, BarrierScanConfig)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        table = run_barrier_scan(cfg, out=tmp, progress=False)
        wall = time.perf_counter() - t0
    print(format_table(table))
    print(f"barrier-scan, 4 spacings x 2 stackings: {wall:.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
