"""What every tool's argument schema shares: the injected caller context, no extra fields,
and a compact JSON schema (the model reads every schema on every call, so tokens count)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain.tools import BaseTool, ToolRuntime
from pydantic import BaseModel, ConfigDict

from tools.context import CallerContext

# Validation keeps these constraints; the model does not need to read them.
_DROPPED = ("title", "maxLength", "minLength", "format")


def _compact_property(prop: dict[str, Any]) -> dict[str, Any]:
    variants = prop.get("anyOf")
    if variants and len(variants) == 2 and {"type": "null"} in variants:
        inner = next(v for v in variants if v != {"type": "null"})
        prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **inner}
        if prop.get("default") is None:
            prop.pop("default", None)
    return {k: v for k, v in prop.items() if k not in _DROPPED}


def compact_schema(schema: dict[str, Any]) -> None:
    """Drop titles, length limits and `anyOf [x, null]` noise from a tool's JSON schema."""
    schema.pop("title", None)
    for name, prop in list(schema.get("properties", {}).items()):
        schema["properties"][name] = _compact_property(prop)


class ToolArgs(BaseModel):
    """Arguments the model may pass; anything else is rejected."""

    # arbitrary_types_allowed: `runtime` is injected by the agent and never shown to the model;
    # it is declared so that extra="forbid" does not reject it.
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    runtime: ToolRuntime[CallerContext]


def tidy(tools: Sequence[BaseTool]) -> list[BaseTool]:
    """One-line descriptions and compact schemas: the model reads them on every call.

    LangChain builds the model-facing schema from the tool's argument model (minus the
    injected runtime) and caches the JSON per tool; compacting that cached dict in place
    changes what the model is sent, not how arguments are validated.
    """
    for item in tools:
        item.description = " ".join(item.description.split())
        schema = item.tool_call_schema
        if isinstance(schema, type) and hasattr(schema, "model_json_schema"):
            compact_schema(schema.model_json_schema())
    return list(tools)
