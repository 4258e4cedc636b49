"""Child manifests from jinja2 templates: values enter only through `| tojson`, then YAML parses.

Operators of a cloud can override any template by putting a file of the same name in
$NIMBUS_TEMPLATE_DIR (the Helm chart mounts a ConfigMap there), as Harvester users edit VM
templates.
"""

from __future__ import annotations

import functools
import os
import pathlib
import re
from typing import Any

import jinja2
import jinja2.meta
import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, when PyYAML has it

BUILTIN = pathlib.Path(__file__).parent / "templates"

# `{{ x }}` without a filter, or with any last filter but tojson, would let a value's text
# become YAML structure (a name of "a: b" would add a key). Every expression ends in tojson.
_EXPRESSION = re.compile(r"{{(.*?)}}", re.S)


class TemplateError(ValueError):
    """A template is unsafe or does not render to one mapping."""


def _check(name: str, source: str) -> None:
    for expression in _EXPRESSION.findall(source):
        if not expression.strip().endswith("tojson"):
            raise TemplateError(f"template {name}: `{{{{{expression}}}}}` must end in `| tojson`")


@functools.cache
def _environment(override: str | None) -> jinja2.Environment:
    search = [override, str(BUILTIN)] if override else [str(BUILTIN)]
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(search),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


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
    obj = yaml.load(template.render(**values), Loader=_LOADER)
    if not isinstance(obj, dict):
        raise TemplateError(
            f"template {template_name} rendered {type(obj).__name__}, not an object"
        )
    return obj
