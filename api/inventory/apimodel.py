"""Typed API models (pydantic v2): one declaration per answer and per query string.

* A response model (``Out``) reads a result object by attribute (dataclasses, properties), validates it in
  pydantic-core and encodes it to JSON bytes there: the OpenAPI schema and the bytes on the wire come from the
  same class, so they cannot disagree.
* A query model (``QueryModel``) is the parameter list of one operation: its fields become the operation's
  query ``parameters`` in the document, and the same class validates ``request.args``. A bad value is the
  usual 400 problem naming the parameter; the reason is the field's ``reasons`` entry (or pydantic's message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, get_origin

from flask import Response, current_app
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema
from pydantic_core import CoreSchema, core_schema
from werkzeug.datastructures import MultiDict

from .problems import bad_parameter

REF = "#/components/schemas/{model}"


class Out(BaseModel):
    """A response model: built from a result object's attributes; every property is required in the schema."""

    model_config = ConfigDict(from_attributes=True, json_schema_serialization_defaults_required=True)


M = TypeVar("M", bound=Out)
Q = TypeVar("Q", bound="QueryModel")


def encode(model: type[M], value: Any, *, exclude: set[str] | None = None) -> bytes:
    """JSON bytes of ``value`` (an object or a mapping with the model's attributes) as ``model`` describes it."""
    return _adapter(model).dump_json(_adapter(model).validate_python(value, from_attributes=True), exclude=exclude)


def answer(model: type[M], value: Any) -> Response:
    """A 200 application/json answer encoded by ``model``."""
    return current_app.response_class(encode(model, value), mimetype="application/json")


_ADAPTERS: dict[type[Out], TypeAdapter[Any]] = {}


def _adapter(model: type[M]) -> TypeAdapter[M]:
    found = _ADAPTERS.get(model)
    if found is None:
        found = _ADAPTERS[model] = TypeAdapter(model)
    return found


@dataclass(frozen=True)
class OneOf:
    """``Annotated[str, OneOf(values)]``: a string from a set known at import time (rule ids, severities, sources'
    kinds), validated and documented (``enum``) from the same tuple."""

    values: tuple[str, ...]

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.literal_schema(list(self.values))


class QueryModel(BaseModel):
    """The query string of one operation. ``reasons``: field -> detail of its 400 (``{input}`` and validation
    context keys are filled in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    reasons: ClassVar[Mapping[str, str]] = {}


def _repeatable(model: type[QueryModel], name: str) -> bool:
    return get_origin(model.model_fields[name].annotation) is list


def parse_query(model: type[Q], args: MultiDict[str, str], context: Mapping[str, Any] | None = None) -> Q:
    """``args`` validated by ``model``; the first problem is a 400 naming its parameter."""
    allowed = sorted(model.model_fields)
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise bad_parameter(unknown[0], f"unknown query parameter {unknown[0]!r}; allowed: {', '.join(allowed)}")
    data: dict[str, Any] = {}
    for name in allowed:
        values = args.getlist(name)
        if not values:
            continue
        if _repeatable(model, name):
            data[name] = values
        elif len(values) > 1:
            raise bad_parameter(name, f"{name} may be given only once")
        else:
            data[name] = values[0]
    try:
        return model.model_validate(data, context=dict(context or {}))
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        name = str(error["loc"][0]) if error["loc"] else "query"
        template = model.reasons.get(name)
        if template is None:
            raise bad_parameter(name, f"{name}: {error['msg']}") from None
        raise bad_parameter(name, template.format(input=data.get(name), **(context or {}))) from None


def query_parameters(model: type[QueryModel], overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[Any]:
    """The OpenAPI ``parameters`` of ``model``: one optional query parameter per field, in declaration order."""
    schema = model.model_json_schema(ref_template=REF)
    out: list[Any] = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k not in ("title", "default", "description")}
        options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]  # absent, not null, when not given
        base: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options} if options else {}
        prop = base | prop | dict((overrides or {}).get(name, {}))
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in schema.get("required", [])}
        param |= {"schema": prop, "description": model.model_fields[name].description or name}
        if _repeatable(model, name):
            param["explode"] = True
        out.append(param)
    return out


def component_schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """``components.schemas`` of ``models`` and every model they refer to, as serialized (titles dropped)."""
    _, found = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    return {name: _untitled(schema) for name, schema in found.get("$defs", {}).items()}


def _untitled(schema: Any) -> Any:
    """Drop pydantic's generated ``title`` keys (noise in the document), keep everything else."""
    if isinstance(schema, dict):
        return {k: _untitled(v) for k, v in schema.items() if not (k == "title" and isinstance(v, str))}
    if isinstance(schema, list):
        return [_untitled(v) for v in schema]
    return schema
