"""Neighbour search and whole-analysis speed, measured side by side in one run.

1. Neighbour search on the same frames: predesolv's batched cell list
   (``predesolv.analysis.neighbors.pairs_within``) vs MDAnalysis ``capped_distance`` (frame by
   frame) vs freud ``AABBQuery`` (frame by frame); the pair sets are checked identical.
2. Whole coordination analysis: ``predesolv.analysis.Coordination`` vs
   ``solvation_analysis.Solute`` with the same cutoffs (no RDF step); molecule counts per frame
   are checked identical.

Frames per second are best of ``--repeat`` runs of process CPU time. The whole-analysis
repeats are interleaved (predesolv, solvation_analysis, predesolv, ...), so that each repeat's
ratio compares two runs made under the same load on a shared host; every repeat's ratio is
printed, with their median and minimum (the robust figures: the best-of-each ratio can pair
runs from different moments). ``--profile`` adds where predesolv's CPU time goes (cProfile,
process CPU time): read (``read_frame_blocks``), search (``pairs_by_centre``), count
(``Coordination._count`` without its search) and other (RDF, set-up, ``_conclude``: regions,
shell table). Needs the ``bench`` extra (``pip install -e ".[test,bench]"``:
solvation_analysis, freud-analysis).

Usage::

    python scripts/bench_analysis.py                   # synthetic run, generated in a tmp dir
    python scripts/bench_analysis.py --dense           # 1 M NaPF6/DME density, random walk
    python scripts/bench_analysis.py --dense --frames 300 --repeat 3 --profile
    python scripts/bench_analysis.py --run-dir RUN_DIR --cutoffs DME=0.30,PF6=0.30
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
import warnings

import numpy as np


def _times(fn, repeat):
    """CPU times of this process for ``repeat`` calls (robust to other jobs on a shared
    host), and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        times.append(time.process_time() - t0)
    return times, out


def _times_interleaved(fns, repeat):
    """CPU times of this process for ``repeat`` rounds of calling every function in ``fns``
    once, in turn (so that the i-th times of all functions share the host's load of round
    i), and the last result of each."""
    times: list[list[float]] = [[] for _ in fns]
    outs: list = [None] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.process_time()
            outs[k] = fn()
            times[k].append(time.process_time() - t0)
    return times, outs


def ratio_summary(ts_ours, ts_theirs, target: float = 20.0) -> str:
    """Per-repeat speed ratios (theirs / ours, process CPU time of the same round), their
    median and minimum, and how many reach ``target``."""
    r = np.asarray(ts_theirs) / np.asarray(ts_ours)
    return (f"per-repeat ratio (CPU time, interleaved): {', '.join(f'{x:.1f}x' for x in r)}; "
            f"median {np.median(r):.1f}x, min {r.min():.1f}x; "
            f">= {target:g}x in {int((r >= target).sum())} of {len(r)} repeats")


def _time(fn, repeat):
    """Best-of-``repeat`` CPU time and the last result."""
    times, out = _times(fn, repeat)
    return min(times), out


def profile_phases(fn, repeat: int) -> dict[str, float]:
    """Per-phase CPU time (s) of ``fn`` (a Coordination run) under cProfile, best of
    ``repeat`` per phase: read / search / count / other (everything else)."""
    best: dict[str, float] = {}
    for _ in range(repeat):
        prof = cProfile.Profile(timer=time.process_time)
        prof.enable()
        fn()
        prof.disable()
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]

        def cum(name, stats=stats):
            return sum(v[3] for k, v in stats.items() if k[2] == name)

        total = sum(v[2] for v in stats.values())
        ph = {"read": cum("read_frame_blocks"), "search": cum("pairs_by_centre")}
        ph["count"] = cum("_count") - ph["search"]
        ph["other"] = total - sum(ph.values())
        ph["total"] = total
        best = {k: min(v, best.get(k, np.inf)) for k, v in ph.items()}
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", help="predesolv run directory (default: synthetic)")
    ap.add_argument("--cutoffs", default="DME=0.30,PF6=0.30", help="KIND=nm,...")
    ap.add_argument("--frames", type=int, default=200, help="frames of the synthetic run")
    ap.add_argument("--ions", type=int, default=30, help="Na+ in the synthetic run")
    ap.add_argument("--free-dme", type=int, default=250, help="free DME in the synthetic run")
    ap.add_argument("--dense", action="store_true",
                    help="liquid-density random NaPF6/DME box (5 nm, 75 Na, 700 DME)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--profile", action="store_true",
                    help="also print where predesolv's time goes (read/search/count/other)")
    args = ap.parse_args(argv)

    from solvation_analysis.solute import Solute

    from predesolv.analysis import Coordination, Geometry, coordination_partners, group, load_run
    from predesolv.analysis.units import nm_to_angstrom
    from predesolv.testing import make_random_electrolyte, make_run

    tmp, run_dir = _run_dir(args, make_random_electrolyte, make_run)
    u, md = load_run(run_dir)
    ions = group(u, md, "cation")
    partners = coordination_partners(u, md)
    cut = {k: float(v) for k, v in (kv.split("=") for kv in args.cutoffs.split(","))}
    cut = {k: v for k, v in cut.items() if k in partners}
    n_frames = len(u.trajectory)
    print(f"run: {run_dir}")
    print(f"atoms {u.atoms.n_atoms}, ions {ions.n_atoms}, partner atoms "
          f"{ {k: ag.n_atoms for k, ag in partners.items()} }, frames {n_frames}, "
          f"cutoffs_nm {cut}")

    def ours():
        geo = Geometry.from_metadata(md)
        return Coordination(ions, partners, cutoffs_nm=cut, geometry=geo).run()

    def theirs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = Solute.from_atoms(ions, dict(partners),
                                  radii={k: nm_to_angstrom(v) for k, v in cut.items()},
                                  skip_rdf=True, analysis_classes=["coordination"])
            s.run()
        return s

    if neighbour_search(u, ions, partners, max(cut.values()), args.repeat) != 0:
        return 1
    (ts_ours, ts_sa), (co, s) = _times_interleaved((ours, theirs), args.repeat)
    t_ours, t_sa = min(ts_ours), min(ts_sa)
    sd = s.solvation_data.reset_index()
    sa_counts = sd.groupby(["frame", "solvent"]).size()
    for j, k in enumerate(co.results.kinds):
        mine = co.results.n_molecules[:, :, j].sum(axis=1)
        ref = np.array([sa_counts.get((f, k), 0) for f in range(n_frames)])
        if not np.array_equal(mine, ref):
            print(f"MISMATCH in {k} molecule counts")
            return 1
    print("molecule counts per frame identical to solvation_analysis: yes")
    print(f"predesolv.analysis.Coordination: {n_frames / t_ours:9.1f} frames/s ({t_ours:.3f} s)")
    print(f"solvation_analysis.Solute      : {n_frames / t_sa:9.1f} frames/s ({t_sa:.3f} s)")
    print(f"speed ratio: {t_sa / t_ours:.1f}x (best of each); per repeat: "
          + ", ".join(f"{b / a:.1f}x" for a, b in zip(ts_ours, ts_sa, strict=True))
          + f"; predesolv {', '.join(f'{t:.3f}' for t in ts_ours)} s, solvation_analysis "
          + f"{', '.join(f'{t:.3f}' for t in ts_sa)} s")
    print(ratio_summary(ts_ours, ts_sa))
    if args.profile:
        ph = profile_phases(ours, args.repeat)
        print(f"predesolv Coordination phases (cProfile, CPU, best of {args.repeat}; "
              f"profiled total {ph['total']:.3f} s):")
        for name in ("read", "search", "count", "other"):
            print(f"  {name:<7} {ph[name] * 1e3:8.1f} ms  {100 * ph[name] / ph['total']:5.1f} %")
    if tmp is not None:
        tmp.cleanup()
    return 0


def _run_dir(args, make_random_electrolyte, make_run):
    """(temporary folder or None, run directory): the user's run or a synthetic one."""
    if args.run_dir is not None:
        return None, args.run_dir
    tmp = tempfile.TemporaryDirectory()
    if args.dense:
        return tmp, make_random_electrolyte(tmp.name, n_frames=args.frames, seed=1)
    return tmp, make_run(tmp.name, n_complexes=args.ions, n_free_dme=args.free_dme,
                         n_frames=args.frames, box_nm=(10.0, 7.0, 7.0), seed=1)


def neighbour_search(u, ions, partners, cutoff_nm: float, repeat: int) -> int:
    """Time the three neighbour searches on the same frames; 1 if their pairs differ."""
    import freud
    from MDAnalysis.lib.distances import capped_distance

    from predesolv.analysis.neighbors import pairs_within

    every = sum(partners.values(), u.atoms[[]])
    a = np.array([ions.positions for _ in u.trajectory], np.float32)
    b = np.array([every.positions for _ in u.trajectory], np.float32)
    boxes = np.array([ts.dimensions for ts in u.trajectory])
    c = cutoff_nm * 10.0

    def cell_list():
        f, i, j, _ = pairs_within(a, b, c, boxes)
        return set(zip(f.tolist(), i.tolist(), j.tolist(), strict=True))

    def mdanalysis():
        return {(f, int(i), int(j)) for f in range(len(a))
                for i, j in capped_distance(a[f], b[f], c, box=boxes[f],
                                            return_distances=False)}

    def with_freud():
        out = set()
        for f in range(len(a)):
            lengths = boxes[f][:3]
            box = freud.box.Box.from_box(lengths)
            nl = freud.locality.AABBQuery(box, box.wrap(b[f] - lengths / 2)).query(
                box.wrap(a[f] - lengths / 2), {"r_max": c}).toNeighborList()
            out |= {(f, int(i), int(j)) for i, j in zip(nl.query_point_indices,
                                                        nl.point_indices, strict=True)}
        return out

    results = {name: _time(fn, repeat) for name, fn in (
        ("predesolv cell list (batched)", cell_list),
        ("MDAnalysis capped_distance", mdanalysis), ("freud AABBQuery", with_freud))}
    ref = results["MDAnalysis capped_distance"][1]
    n = len(a)
    print(f"neighbour search, {a.shape[1]} centres x {b.shape[1]} partners, cutoff {c:g} A, "
          f"{n} frames, {len(ref)} pairs:")
    for name, (t, pairs) in results.items():
        same = "identical" if pairs == ref else f"DIFFERENT ({len(pairs ^ ref)} pairs)"
        print(f"  {name:<32} {n / t:9.1f} frames/s  pairs {same}")
    t_ref = results["MDAnalysis capped_distance"][0]
    for name, (t, _) in results.items():
        print(f"  ratio {name} / capped_distance: {t_ref / t:.2f}x")
    return 0 if all(p == ref for _, p in results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
