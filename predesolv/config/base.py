"""Base model shared by every config section."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Strict

#: An integer that must be written as one (``true`` and ``"5"`` are refused); bound every use
#: by what OpenMM accepts (C ``int``: < 2**31).
Int = Annotated[int, Strict()]
INT_MAX = 2**31 - 1


class StrictModel(BaseModel):
    """Pydantic model that forbids unknown keys and validates on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)
