"""Child manifests from jinja2 templates: values enter only through `| tojson`, then YAML parses.

Operators of a cloud can override any template by putting a file of the same name in
$NIMBUS_TEMPLATE_DIR (the Helm chart mounts a ConfigMap there), as Harvester users edit VM
templates.
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
import pathlib
import re
from typing import Any

import jinja2
import jinja2.meta
import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it

BUILTIN = pathlib.Path(__file__).parent.parent / "templates"

# `{{ x }}` without a filter, or with any last filter but tojson, would let a value's text
# become YAML structure (a name of "a: b" would add a key). Every expression ends in tojson.
_EXPRESSION = re.compile(r"{{(.*?)}}", re.S)


class TemplateError(ValueError):
    """A template is unsafe or does not render to one mapping."""


def _check(name: str, source: str) -> None:
    for expression in _EXPRESSION.findall(source):
        if not expression.strip().endswith("tojson"):
            raise TemplateError(f"template {name}: `{{{{{expression}}}}}` must end in `| tojson`")


# How a rendering is parsed fast: each `| tojson` leaves a token in the text and its value in a
# slot; YAML parses only the template's own small skeleton, and the tokens are then replaced by
# their values, made as JSON would give them back. Parsing every value's JSON text as YAML (in
# PyYAML's Python constructor) was the largest cost of rendering a server's VM.
_SLOTS: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("slots", default=None)
_TOKEN = re.compile(r"@nimbus-value-(\d+)@")


class _UnfilledError(Exception):
    """A token is part of a larger scalar, or a key that cannot be one: parse the slow way."""


def _tojson(eval_context: jinja2.nodes.EvalContext, value: Any, indent: int | None = None) -> Any:
    slots = _SLOTS.get()
    if slots is None or indent is not None:
        return jinja2.filters.do_tojson(eval_context, value, indent)
    slots.append(value)
    return f'"@nimbus-value-{len(slots) - 1}@"'


def _fill(node: Any, values: list[Any]) -> Any:
    """The skeleton with each token replaced by its value."""
    if isinstance(node, str):
        whole = _TOKEN.fullmatch(node)
        if whole:
            return values[int(whole[1])]
        if _TOKEN.search(node):
            raise _UnfilledError
        return node
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if isinstance(node, dict):
        filled = {}
        for key, item in node.items():
            key = _fill(key, values)
            if isinstance(key, dict | list):
                raise _UnfilledError
            filled[key] = _fill(item, values)
        return filled
    return node


@functools.cache
def _environment(override: str | None) -> jinja2.Environment:
    search = [override, str(BUILTIN)] if override else [str(BUILTIN)]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    environment.filters["tojson"] = jinja2.pass_eval_context(_tojson)
    return environment


@functools.cache
def _template(name: str, override: str | None) -> tuple[jinja2.Template, frozenset[str]]:
    """The template and the names of the values it needs."""
    environment = _environment(override)
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, name)
    _check(name, source)
    needs = jinja2.meta.find_undeclared_variables(environment.parse(source))
    return environment.get_template(name), frozenset(needs)


def render(template_name: str, /, **values: Any) -> dict[str, Any]:
    """Render the template named `template_name` with `values`; parse it into one object."""
    template, needs = _template(template_name, os.environ.get("NIMBUS_TEMPLATE_DIR") or None)
    missing = sorted(needs - set(values))
    if missing:
        raise TemplateError(f"template {template_name} needs values: {', '.join(missing)}")
    obj = _parse(template, values)
    if not isinstance(obj, dict):
        raise TemplateError(
            f"template {template_name} rendered {type(obj).__name__}, not an object"
        )
    return obj


def _parse(template: jinja2.Template, values: dict[str, Any]) -> Any:
    slots: list[Any] = []
    reset = _SLOTS.set(slots)
    try:
        skeleton = yaml.load(template.render(**values), Loader=_LOADER)
    finally:
        _SLOTS.reset(reset)
    # Each value as YAML would have read its JSON (tuples become lists, keys are sorted), and a
    # copy of its own: what a caller passed is never shared with what it gets back.
    parsed = [json.loads(json.dumps(value, sort_keys=True)) for value in slots]
    try:
        return _fill(skeleton, parsed)
    except _UnfilledError:
        return yaml.load(template.render(**values), Loader=_LOADER)
