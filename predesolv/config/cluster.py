"""``pmf.cluster`` YAML block: where umbrella windows (independent runs) execute.

Examples::

    cluster: {kind: local}                          # workers x threads fitted to the cores
    cluster: {kind: local, gpus: ["0", "1"]}        # one worker per GPU, each its device
    cluster: {kind: address, address: "tcp://10.0.0.5:8786"}   # an existing scheduler
    cluster:                                        # SLURM through dask-jobqueue
      kind: slurm
      queue: gpu
      account: chem123
      walltime: "04:00:00"
      cores: 8
      memory: "32GB"
      n_jobs: 4
      job_directives: ["--gres=gpu:1"]
      job_script_prologue: ["module load cuda"]
"""

from __future__ import annotations

import importlib.util
import os
from typing import Annotated, Literal

from pydantic import Field, model_validator

from predesolv.config.base import Int, StrictModel

#: dask-jobqueue cluster class of each batch-system kind.
JOBQUEUE_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster",
                    "lsf": "LSFCluster"}


class ClusterConfig(StrictModel):
    """Dask cluster for ``predesolv pmf`` windows (``--serial`` bypasses it)."""

    kind: Literal["local", "slurm", "pbs", "sge", "lsf", "address"] = Field(
        "local", description="local (LocalCluster), a batch system via dask-jobqueue, or the "
        "address of a running scheduler")
    n_workers: Annotated[Int, Field(ge=1, le=4096)] | None = Field(
        None, description="local workers (default: one per GPU, else cores / threads)")
    threads_per_worker: Annotated[Int, Field(ge=1, le=1024)] | None = Field(
        None, description="CPU threads of each local worker, also OpenMM's CPU threads "
        "(default 1)")
    gpus: list[Annotated[str, Field(pattern=r"^\d+$")]] = Field(
        default_factory=list, description="GPU device indices: one local worker per GPU")
    address: str | None = Field(None, description="scheduler address (kind: address)")
    queue: str | None = None
    account: str | None = None
    walltime: str | None = Field(None, description="job walltime, e.g. '04:00:00'")
    cores: Annotated[Int, Field(ge=1, le=4096)] | None = Field(None, description="cores per job")
    memory: str | None = Field(None, description="memory per job, e.g. '16GB'")
    processes: Annotated[Int, Field(ge=1, le=4096)] | None = Field(
        None, description="worker processes per job (default 1)")
    n_jobs: Annotated[Int, Field(ge=1, le=10000)] = Field(1, description="jobs to submit")
    job_directives: list[str] = Field(default_factory=list,
                                      description="extra scheduler lines (#SBATCH ...)")
    job_script_prologue: list[str] = Field(default_factory=list,
                                           description="shell lines run before the worker")
    retries: Annotated[Int, Field(ge=0, le=100)] = Field(
        3, description="reruns of a window whose worker died or that failed")
    lock_wait_s: Annotated[float, Field(ge=0, le=86400)] = Field(
        600.0, description="how long a retried window waits for a lost worker's lock")

    @model_validator(mode="after")
    def _kind_fields(self) -> ClusterConfig:
        batch = ("queue", "account", "walltime", "cores", "memory", "processes")
        if self.kind == "address" and not self.address:
            raise ValueError("kind 'address' needs 'address' (e.g. 'tcp://host:8786')")
        if self.kind != "address" and self.address:
            raise ValueError(f"'address' is only for kind 'address' (kind is {self.kind!r})")
        if self.kind == "local":
            given = [f for f in batch if getattr(self, f) is not None]
            if given or self.job_directives or self.job_script_prologue:
                raise ValueError(f"{(given or ['job_directives'])[0]!r} is a batch-system "
                                 f"option; kind 'local' does not take it")
        if self.kind in JOBQUEUE_CLASSES:
            if importlib.util.find_spec("dask_jobqueue") is None:
                raise ValueError(f"kind {self.kind!r} needs dask-jobqueue: pip install "
                                 f"dask-jobqueue")
            if self.cores is None or self.memory is None:
                raise ValueError(f"kind {self.kind!r} needs 'cores' and 'memory' per job")
        if self.gpus and self.kind != "local":
            raise ValueError("'gpus' is for kind 'local'; on a batch system request GPUs with "
                             "job_directives (e.g. '--gres=gpu:1')")
        return self

    def local_layout(self) -> tuple[int, int]:
        """(workers, threads per worker) of a LocalCluster."""
        threads = self.threads_per_worker or 1
        if self.n_workers is not None:
            return self.n_workers, threads
        if self.gpus:
            return len(self.gpus), threads
        return max(1, (os.cpu_count() or 1) // threads), threads
