"""Independent runs (umbrella windows, replicas) as tasks on ``dask.distributed``.

The only predesolv module that imports Dask. :func:`run_tasks` runs a list of :class:`Task`
either in this process (``serial=True``: no Dask at all) or on a Dask cluster built from a
:class:`~predesolv.config.cluster.ClusterConfig`:

* ``local``: a ``LocalCluster`` of worker *processes*; with ``gpus`` one worker per GPU, and
  each task is handed its worker's device index; otherwise workers × threads fitted to the
  CPU cores, with ``OPENMM_CPU_THREADS`` set to the threads of a worker;
* ``slurm``/``pbs``/``sge``/``lsf``: the dask-jobqueue cluster class, ``n_jobs`` jobs;
* ``address``: a running scheduler.

Fault tolerance: a task whose worker dies is rescheduled by Dask (``allowed-failures`` is set
to ``retries``), and a task that raises is retried ``retries`` times. Tasks must therefore be
restartable: predesolv windows resume from their own verified checkpoint, and a retried
window waits (:func:`call_with_lock_wait`) while a lost but still running worker holds its
run directory's lock.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from predesolv.config.cluster import JOBQUEUE_CLASSES, ClusterConfig
from predesolv.errors import Interrupted, PredesolvRuntimeError, RunDirectoryBusy

#: Seconds between two attempts to take a busy run directory's lock.
LOCK_POLL_S = 2.0


@dataclass(frozen=True)
class Task:
    """A named, picklable unit of work: ``fn(device_index)`` (``None`` off GPUs)."""

    name: str
    fn: Callable[[str | None], Any]


def call_with_lock_wait(fn: Callable[[str | None], Any], device: str | None,
                        wait_s: float) -> Any:
    """Call ``fn(device)``; while it reports a busy run directory (a lost worker may still
    be writing), retry every :data:`LOCK_POLL_S` seconds for up to ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return fn(device)
        except RunDirectoryBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(LOCK_POLL_S)


def _on_worker(fn: Callable[[str | None], Any], gpus: Sequence[str], wait_s: float) -> Any:
    """Task body on a worker: pick the worker's GPU (LocalCluster names workers 0..n-1)."""
    device = None
    if gpus:
        from distributed import get_worker

        device = gpus[int(get_worker().name) % len(gpus)]
    return call_with_lock_wait(fn, device, wait_s)


def _say(text: str, progress: bool) -> None:
    if progress:
        sys.stderr.write(f"predesolv: {text}\n")
        sys.stderr.flush()


def run_tasks(tasks: Sequence[Task], cluster: ClusterConfig | None = None, *,
              serial: bool = False, progress: bool = True) -> list[Any]:
    """Run every task; results in task order.

    Parameters
    ----------
    tasks : sequence of Task
    cluster : ClusterConfig, optional
        Default: a local cluster fitted to this machine.
    serial : bool
        Run in this process, one after another, without Dask (debugging).
    progress : bool
        One line on stderr per finished task with its wall time and the overall count.

    Raises
    ------
    PredesolvRuntimeError
        A task still failed after its retries (its name and the error are given).
    """
    cfg = cluster or ClusterConfig()
    if serial:
        return _run_serial(tasks, cfg, progress)
    import dask
    import distributed  # noqa: F401  (registers its config defaults before they are set)

    with dask.config.set({"distributed.scheduler.allowed-failures": cfg.retries}), \
            _client(cfg) as client:
        return _run_on(client, tasks, cfg, progress)


def _run_serial(tasks: Sequence[Task], cfg: ClusterConfig, progress: bool) -> list[Any]:
    out = []
    device = cfg.gpus[0] if cfg.gpus else None
    for i, t in enumerate(tasks):
        t0 = time.perf_counter()
        try:
            out.append(call_with_lock_wait(t.fn, device, cfg.lock_wait_s))
        except Interrupted:
            raise  # Ctrl-C: the window wrote a checkpoint; the caller says how to go on
        except Exception as exc:
            raise PredesolvRuntimeError(f"task {t.name!r} failed: {exc}") from exc
        _say(f"{t.name} done in {time.perf_counter() - t0:.1f} s ({i + 1}/{len(tasks)})",
             progress)
    return out


def _run_on(client: Any, tasks: Sequence[Task], cfg: ClusterConfig,
            progress: bool) -> list[Any]:
    from distributed import as_completed

    t0 = time.perf_counter()
    futures = {client.submit(_on_worker, t.fn, list(cfg.gpus), cfg.lock_wait_s,
                             key=f"predesolv-{t.name}-{time.time_ns()}", pure=False,
                             retries=cfg.retries): i
               for i, t in enumerate(tasks)}
    _say(f"{len(tasks)} tasks on {len(client.scheduler_info()['workers'])} Dask workers",
         progress)
    results: list[Any] = [None] * len(tasks)
    for n, fut in enumerate(as_completed(futures), 1):
        i = futures[fut]
        try:
            results[i] = fut.result()
        except Interrupted as exc:  # --stop-after or a signal: a checkpoint was written
            for other in futures:
                other.cancel()
            raise Interrupted(f"task {tasks[i].name!r}: {exc.what}", exc.advice) from None
        except Exception as exc:
            for other in futures:
                other.cancel()
            raise PredesolvRuntimeError(
                f"task {tasks[i].name!r} failed after {cfg.retries} retries: "
                f"{type(exc).__name__}: {exc}") from exc
        _say(f"{tasks[i].name} done ({n}/{len(tasks)}, {time.perf_counter() - t0:.1f} s "
             f"elapsed)", progress)
    return results


@contextmanager
def _client(cfg: ClusterConfig) -> Iterator[Any]:
    """A Dask client on the cluster ``cfg`` describes (clusters made here are closed)."""
    from distributed import Client

    if cfg.kind == "address":
        with Client(cfg.address) as client:
            yield client
        return
    cluster = make_cluster(cfg)
    try:
        if cfg.kind in JOBQUEUE_CLASSES:
            cluster.scale(jobs=cfg.n_jobs)
        with Client(cluster) as client:
            if cfg.kind in JOBQUEUE_CLASSES:
                client.wait_for_workers(1)
            yield client
    finally:
        cluster.close()


def make_cluster(cfg: ClusterConfig) -> Any:
    """The (unstarted for batch kinds) Dask cluster object of ``cfg``; ``address`` has none.

    A batch cluster's job script is ``make_cluster(cfg).job_script()`` (nothing submitted
    until it is scaled).
    """
    if cfg.kind == "local":
        from distributed import LocalCluster

        workers, threads = cfg.local_layout()
        return LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True,
                            dashboard_address=None,
                            env={"OPENMM_CPU_THREADS": str(threads)})
    if cfg.kind in JOBQUEUE_CLASSES:
        import dask_jobqueue

        cls = getattr(dask_jobqueue, JOBQUEUE_CLASSES[cfg.kind])
        kwargs = {k: getattr(cfg, k) for k in ("queue", "account", "walltime", "cores",
                                               "memory", "processes")
                  if getattr(cfg, k) is not None}
        if cfg.kind in ("sge",):
            kwargs.pop("account", None)
            if cfg.account:
                kwargs["project"] = cfg.account
        return cls(job_extra_directives=list(cfg.job_directives),
                   job_script_prologue=list(cfg.job_script_prologue), **kwargs)
    raise ValueError(f"cluster kind {cfg.kind!r} has no cluster object to make")
