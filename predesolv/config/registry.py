"""A YAML block whose shape is chosen by one key from a registry of pydantic models.

:class:`TaggedModels` is the open-ended counterpart of a pydantic discriminated union: the
allowed tags are read from a mutable ``name -> model`` mapping when a config is validated
(and when ``predesolv schema`` writes the JSON schema), so a module that registers a new
model (a CV type, an electrode charge mode) is accepted by every config that uses the
field, with no edit to the union. Used through
:func:`predesolv.config.cvtypes.register_cv_type` and
:func:`predesolv.config.electrode.register_charge_mode`.

Errors keep the loader's shape (``path: message (got VALUE)``): an unknown tag is reported on
``<field>.<key>`` with the registered names; errors inside the chosen model keep their own
paths (``bias.cv.group``), with no union tag in between.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema


class TaggedModels:
    """Pydantic ``Annotated`` marker: validate a mapping with the model its ``key`` names.

    Parameters
    ----------
    key : str
        The tag key inside the mapping (``"type"``, ``"mode"``).
    noun : str
        What a tag names, for messages (``"CV type"``).
    models : Mapping[str, type[BaseModel]]
        The registry, read at each validation (so later registrations count).
    """

    def __init__(self, key: str, noun: str, models: Mapping[str, type[BaseModel]]):
        self.key = key
        self.noun = noun
        self.models = models

    def allowed(self) -> str:
        """The registered tags, sorted, comma separated."""
        return ", ".join(sorted(self.models))

    def _fail(self, message: str, value: Any) -> ValidationError:
        err = PydanticCustomError("unknown_tag", message)
        return ValidationError.from_exception_data(
            self.noun, [InitErrorDetails(type=err, loc=(self.key,), input=value)])

    def validate(self, value: Any, info: core_schema.ValidationInfo) -> BaseModel:
        """The model instance for ``value`` (a mapping, or an instance of a registered model).

        Raises
        ------
        ValidationError
            ``value`` is not a mapping, has no or an unregistered tag, or fails its model.
        """
        if isinstance(value, BaseModel) and type(value) in self.models.values():
            return value
        if not isinstance(value, Mapping):
            raise PydanticCustomError(
                "model_type", f"Input should be a mapping with a '{self.key}' key "
                f"({self.noun}: one of {self.allowed()})")
        tag = value.get(self.key)
        if self.key not in value:
            raise self._fail(f"required field is missing: the {self.noun}, one of "
                             f"{self.allowed()}", dict(value))
        model = self.models.get(tag) if isinstance(tag, str) else None
        if model is None:
            raise self._fail(f"unknown {self.noun}; allowed: {self.allowed()}", tag)
        return model.model_validate(dict(value), context=info.context)

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _dump, info_arg=True))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"oneOf": [handler(m.__pydantic_core_schema__) for m in self.models.values()],
                "discriminator": {"propertyName": self.key},
                "description": f"{self.noun}: one of {self.allowed()} (key '{self.key}')"}


def _dump(value: Any, info: core_schema.SerializationInfo) -> Any:
    """Serialise the chosen model as its own ``model_dump`` would (mode, exclusions)."""
    if not isinstance(value, BaseModel):
        return value
    return value.model_dump(mode=info.mode, by_alias=bool(info.by_alias),
                            exclude_none=info.exclude_none, exclude_unset=info.exclude_unset,
                            exclude_defaults=info.exclude_defaults)


def check_tag_field(model: type[BaseModel], key: str, name: str) -> None:
    """Refuse to register ``model`` under ``name`` unless it has a ``key`` field.

    Raises
    ------
    ValueError
        The model has no ``key`` field (its tag would be lost when it is written back).
    """
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ValueError(f"{name!r}: the model must be a pydantic model class, got {model!r}")
    if key not in model.model_fields:
        raise ValueError(f"{name!r}: {model.__name__} needs a field {key}: Literal[{name!r}]")
