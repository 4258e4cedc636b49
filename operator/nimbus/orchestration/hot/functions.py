"""Intrinsic functions and conditions, pure: a template's snippets evaluated as Heat evaluates
them (get_param, get_resource, get_attr, str_replace, list_join, ..., with Heat's quirks), and
the conditions' values. What a template needs of the cloud (a resource's reference, an
attribute) comes through a Context.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from .template import (
    ADDED,
    CFN,
    HotError,
    Template,
    condition_functions,
    function_error,
    functions,
)

# -- evaluation ----------------------------------------------------------------------------------


class Omit:
    """What a two-argument `if` (2021-04-16) yields when false: the item is left out."""


OMIT = Omit()


@dataclasses.dataclass
class Context:
    """What evaluating a template needs: the version, parameter values, files, the conditions'
    values, and callbacks for resources (their reference, and an attribute; None while it is
    not known)."""

    version: str
    parameters: dict[str, Any] = dataclasses.field(default_factory=dict)
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    conditions: dict[str, bool] = dataclasses.field(default_factory=dict)
    resource: Callable[[str], Any] = lambda name: name
    attribute: Callable[[str, str | None], Any] = lambda name, attr: None
    resources: frozenset[str] = frozenset()


def _path(value: Any, path: list[Any]) -> Any:
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list):
            try:
                value = value[int(key)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if value is None:
            return None
    return value


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value)


def evaluate(node: Any, ctx: Context) -> Any:
    """The node with every intrinsic function resolved."""
    if isinstance(node, list):
        items = [evaluate(v, ctx) for v in node]
        return [v for v in items if v is not OMIT]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key,) = node
        allowed = functions(ctx.version)
        if key in allowed:
            return FUNCTIONS[key](node[key], ctx)
        if key in ADDED or key in CFN:
            raise function_error(key, ctx.version)
    out = {}
    for key, value in node.items():
        got = evaluate(value, ctx)
        if got is not OMIT:
            out[key] = got
    return out


def _get_param(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    name, path = (args[0], args[1:]) if isinstance(args, list) else (args, [])
    if name not in ctx.parameters:
        raise HotError(f"The Parameter ({name}) was not provided.")
    value = ctx.parameters[name]
    if not path:
        return value
    found = _path(value, path)
    return "" if found is None else found  # Heat's quirk: a bad path yields ''


def _get_resource(args: Any, ctx: Context) -> Any:
    name = evaluate(args, ctx)
    if name not in ctx.resources:
        raise HotError(f'The specified reference "{name}" (in unknown) is incorrect.')
    return ctx.resource(name)


def _get_attr(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or not args:
        raise HotError("Arguments to \"get_attr\" must be of the form "
                       "[resource_name, attribute, (path), ...]")  # fmt: skip
    name = args[0]
    if name not in ctx.resources:
        raise HotError(f'The specified reference "{name}" (in unknown) is incorrect.')
    if len(args) == 1:
        if ctx.version < "2015-10-15":
            raise HotError('Arguments to "get_attr" must be of the form '
                           "[resource_name, attribute, (path), ...]")  # fmt: skip
        return ctx.attribute(name, None)
    return _path(ctx.attribute(name, str(args[1])), args[2:])


def _get_file(args: Any, ctx: Context) -> Any:
    key = evaluate(args, ctx)
    if key not in ctx.files:
        raise HotError(f'No content found in the "files" section for get_file path: {key}')
    return ctx.files[key]


def _list_join(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or len(args) < 2:
        raise HotError('Incorrect arguments to "list_join" should be: list_join: '
                       "[delimiter, <list to join>, ...]")  # fmt: skip
    delimiter, lists = args[0], args[1:]
    if ctx.version < "2015-10-15" and len(lists) > 1:
        raise HotError('Incorrect arguments to "list_join" should be: list_join: '
                       "[delimiter, <list to join>]")  # fmt: skip
    items: list[str] = []
    for value in lists:
        if value in (None, ""):
            continue
        if not isinstance(value, list):
            raise HotError('Incorrect arguments to "list_join": each list must be a list')
        items += [_string(v) for v in value]
    return str(delimiter).join(items)


def _replace(strict: int) -> Callable[[Any, Context], Any]:
    name = ("str_replace", "str_replace_strict", "str_replace_vstrict")[strict]

    def replace(args: Any, ctx: Context) -> Any:
        args = evaluate(args, ctx)
        if not isinstance(args, dict) or set(args) != {"template", "params"}:
            raise HotError(f'"{name}" syntax should be {name}:\\n  template: <string>\\n  '
                           "params: <mapping>")  # fmt: skip
        text, params = args["template"], args["params"] or {}
        if not isinstance(text, str):
            raise HotError(f'"{name}" template must be a string')
        if not isinstance(params, dict):
            raise HotError(f'"{name}" params must be a map')
        if strict:
            missing = [k for k in params if str(k) not in text]
            if missing:
                raise HotError("The following params were not found in the template: "
                               + ",".join(sorted(str(k) for k in missing)))  # fmt: skip
        if strict == 2:
            empty = [k for k, v in params.items() if v in (None, "")]
            if empty:
                raise HotError("The following params had empty values: "
                               + ",".join(sorted(str(k) for k in empty)))  # fmt: skip
        # Heat replaces the longest key first, so that a key inside another does not win.
        keys = sorted(params, key=lambda k: (-len(str(k)), str(k)))
        marks = {}
        for i, key in enumerate(keys):
            mark = f"\x00{i}\x00"
            text = text.replace(str(key), mark)
            marks[mark] = _string(params[key])
        for mark, value in marks.items():
            text = text.replace(mark, value)
        return text

    return replace


def _str_split(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or len(args) not in (2, 3):
        raise HotError('Incorrect arguments to "str_split" should be: str_split: '
                       "[delimiter, string, <index>]")  # fmt: skip
    parts = str(args[1]).split(str(args[0]))
    if len(args) == 3:
        try:
            return parts[int(args[2])]
        except (ValueError, IndexError):
            raise HotError(f'Incorrect index to "str_split": {args[2]}') from None
    return parts


def _repeat(args: Any, ctx: Context) -> Any:
    if not isinstance(args, dict) or "for_each" not in args or "template" not in args:
        raise HotError('"repeat" syntax should be repeat:\\n  for_each:\\n    <var>: <list>\\n'
                       "  template: <template>")  # fmt: skip
    loops = evaluate(args["for_each"], ctx)
    permutations = evaluate(args.get("permutations", True), ctx)
    if "permutations" in args and ctx.version < "2017-09-01":
        raise HotError('"permutations" is not supported in "repeat" before 2017-09-01')
    if not isinstance(loops, dict) or not all(isinstance(v, list) for v in loops.values()):
        raise HotError('The values of the "for_each" argument to "repeat" must be lists')
    keys = list(loops)
    if permutations:
        combos: list[tuple[Any, ...]] = [()]
        for key in keys:
            combos = [(*c, v) for c in combos for v in loops[key]]
    else:
        lengths = {len(v) for v in loops.values()}
        if len(lengths) > 1:
            raise HotError('Loop lists of "repeat" without permutations must be the same length')
        combos = list(zip(*loops.values(), strict=True))
    template = args["template"]

    def fill(node: Any, values: dict[str, Any]) -> Any:
        if isinstance(node, str):
            for key in sorted(values, key=lambda k: -len(k)):
                node = node.replace(key, _string(values[key]))
            return node
        if isinstance(node, list):
            return [fill(v, values) for v in node]
        if isinstance(node, dict):
            if ctx.version < "2016-10-14":
                return {k: fill(v, values) for k, v in node.items()}
            return {fill(k, values): fill(v, values) for k, v in node.items()}
        return node

    return [evaluate(fill(template, dict(zip(keys, combo, strict=True))), ctx) for combo in combos]


def _digest(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or len(args) != 2:
        raise HotError('Argument to function "digest" must be a list of [algorithm, value]')
    try:
        return hashlib.new(str(args[0]), str(args[1]).encode()).hexdigest()
    except ValueError:
        raise HotError(f'Algorithm must be one of {", ".join(sorted(hashlib.algorithms_available))}'
                       ) from None  # fmt: skip


def _map_merge(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or not all(isinstance(m, dict) or m is None for m in args):
        raise HotError('Incorrect arguments to "map_merge" should be: map_merge: '
                       "[{'k1': 'v1'}, {'k2': 'v2'}, ...]")  # fmt: skip
    out: dict[str, Any] = {}
    for mapping in args:
        out.update(mapping or {})
    return out


def _map_replace(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or len(args) != 2 or not isinstance(args[0], dict):
        raise HotError('Incorrect arguments to "map_replace" should be: map_replace: '
                       "[{'k1': 'v1', 'k2': 'v2'}, {'keys': {'k1': 'K1'}, "
                       "'values': {'v2': 'V2'}}]")  # fmt: skip
    mapping, how = args
    keys, values = (how or {}).get("keys") or {}, (how or {}).get("values") or {}
    out = {}
    for key, value in mapping.items():
        new_key = keys.get(key, key)
        if new_key in out:
            raise HotError(f"key replacement {new_key} collides with a key in the input map")
        out[new_key] = values.get(value, value) if isinstance(value, str | int | float) else value
    return out


def _if(args: Any, ctx: Context) -> Any:
    if (
        not isinstance(args, list)
        or len(args) not in (2, 3)
        or (len(args) == 2 and ctx.version < "2021-04-16")
    ):
        raise HotError('Arguments to "if" must be of the form: [condition_name, value_if_true, '
                       "value_if_false]")  # fmt: skip
    condition = args[0]
    if isinstance(condition, str):
        if condition not in ctx.conditions:
            raise HotError(f'Invalid condition "{condition}"')
        truth = ctx.conditions[condition]
    else:
        truth = bool(evaluate_condition(condition, ctx))
    if truth:
        return evaluate(args[1], ctx)
    return evaluate(args[2], ctx) if len(args) == 3 else OMIT


def _list_concat(unique: bool) -> Callable[[Any, Context], Any]:
    def concat(args: Any, ctx: Context) -> Any:
        args = evaluate(args, ctx)
        name = "list_concat_unique" if unique else "list_concat"
        if not isinstance(args, list) or not all(isinstance(v, list) for v in args):
            raise HotError(f'Incorrect arguments to "{name}" should be: {name}: '
                           "[<list>, <list>, ...]")  # fmt: skip
        out: list[Any] = []
        for value in args:
            for item in value:
                if not unique or item not in out:
                    out.append(item)
        return out

    return concat


def _contains(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or len(args) != 2 or not isinstance(args[1], list | str):
        raise HotError('Arguments to "contains" must be of the form: [value, sequence]')
    return args[0] in args[1]


def _make_url(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, dict):
        raise HotError('The arguments to "make_url" must be a map')
    host = str(args.get("host", ""))
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    port = args.get("port")
    netloc = f"{host}:{port}" if port not in (None, "") else host
    path = str(args.get("path", ""))
    query = args.get("query") or {}
    return urllib.parse.urlunsplit((
        str(args.get("scheme", "")), netloc, path if path.startswith("/") or not path
        else "/" + path, urllib.parse.urlencode(query), str(args.get("fragment", "")),
    ))  # fmt: skip


def _filter(args: Any, ctx: Context) -> Any:
    args = evaluate(args, ctx)
    if not isinstance(args, list) or len(args) != 2 or not isinstance(args[1], list):
        raise HotError('Arguments to "filter" must be of the form: [values_to_filter, sequence]')
    drop = args[0] or []
    return [v for v in args[1] if v not in drop]


def _yaql(args: Any, ctx: Context) -> Any:
    raise HotError('The function "yaql" is not supported by Nimbus: use the other functions')


def _resource_facade(args: Any, ctx: Context) -> Any:
    raise HotError('The function "resource_facade" is only valid in a nested stack, which '
                   "Nimbus does not make")  # fmt: skip


def _removed(name: str) -> Callable[[Any, Context], Any]:
    def removed(args: Any, ctx: Context) -> Any:
        raise HotError(f'The function "{name}" (a CloudFormation function of 2013-05-23) is '
                       "not supported by Nimbus: use the HOT functions")  # fmt: skip

    return removed


FUNCTIONS: dict[str, Callable[[Any, Context], Any]] = {
    "get_param": _get_param,
    "get_resource": _get_resource,
    "get_attr": _get_attr,
    "get_file": _get_file,
    "list_join": _list_join,
    "str_replace": _replace(0),
    "str_replace_strict": _replace(1),
    "str_replace_vstrict": _replace(2),
    "str_split": _str_split,
    "repeat": _repeat,
    "digest": _digest,
    "map_merge": _map_merge,
    "map_replace": _map_replace,
    "if": _if,
    "list_concat": _list_concat(False),
    "list_concat_unique": _list_concat(True),
    "contains": _contains,
    "make_url": _make_url,
    "filter": _filter,
    "yaql": _yaql,
    "resource_facade": _resource_facade,
    **{name: _removed(name) for name in CFN},
}


# -- conditions ----------------------------------------------------------------------------------


def evaluate_condition(node: Any, ctx: Context) -> bool:
    """A condition's value: a boolean, the name of another condition, or a condition function."""
    if isinstance(node, bool):
        return node
    if isinstance(node, str):
        if node in ctx.conditions:
            return ctx.conditions[node]
        raise HotError(f'Invalid condition "{node}"')
    if not isinstance(node, dict) or len(node) != 1:
        raise HotError(f"Invalid condition definition: {node!r}")
    (key,) = node
    args = node[key]
    if key not in condition_functions(ctx.version):
        raise HotError(f'The function "{key}" is not allowed in conditions in '
                       f"heat_template_version {ctx.version}")  # fmt: skip
    if key == "get_param":
        return bool(_get_param(args, ctx))
    if key == "equals":
        if not isinstance(args, list) or len(args) != 2:
            raise HotError('Arguments to "equals" must be of the form: [value_1, value_2]')
        return bool(evaluate(args[0], ctx) == evaluate(args[1], ctx))
    if key == "not":
        return not evaluate_condition(args, ctx)
    if key in ("and", "or"):
        if not isinstance(args, list) or len(args) < 2:
            raise HotError(f'The minimum number of condition arguments to "{key}" is 2.')
        values = [evaluate_condition(a, ctx) for a in args]
        return all(values) if key == "and" else any(values)
    if key == "contains":
        return bool(_contains(args, ctx))
    if key == "if":
        return bool(evaluate(node, ctx))
    return bool(FUNCTIONS[key](args, ctx))


def evaluate_conditions(template: Template, ctx: Context) -> dict[str, bool]:
    """Every condition's value; a condition may name another (no cycles)."""
    definitions = template.conditions
    values: dict[str, bool] = {}
    visiting: set[str] = set()

    class Lazy(dict[str, bool]):
        def __contains__(self, key: object) -> bool:
            return key in definitions

        def __getitem__(self, key: str) -> bool:
            return value(key)

    def value(name: str) -> bool:
        if name in values:
            return values[name]
        if name in visiting:
            raise HotError(f'Circular definition for condition "{name}"')
        visiting.add(name)
        values[name] = evaluate_condition(definitions[name], lazy_ctx)
        return values[name]

    lazy_ctx = dataclasses.replace(ctx, conditions=Lazy())
    for name in definitions:
        value(name)
    return values
