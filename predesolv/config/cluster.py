"""``pmf.cluster`` YAML block (placeholder until the Dask module lands)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from predesolv.config.base import Int, StrictModel


class ClusterConfig(StrictModel):
    """Where umbrella windows run."""

    kind: Literal["local"] = "local"
    n_workers: Annotated[Int, Field(ge=1, le=1024)] | None = None
    threads_per_worker: Annotated[Int, Field(ge=1, le=1024)] | None = None
    retries: Annotated[Int, Field(ge=0, le=100)] = 3
