"""Base model shared by every config section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Pydantic model that forbids unknown keys and validates on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)
