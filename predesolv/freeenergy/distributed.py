"""Placeholder: serial task runner (the Dask module replaces it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Task:
    name: str
    fn: Callable[..., Any]


def run_tasks(tasks: Sequence[Task], cluster: Any = None, serial: bool = False,
              progress: bool = True) -> list[Any]:
    return [t.fn(None) for t in tasks]
