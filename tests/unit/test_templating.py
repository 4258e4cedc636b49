"""Templates take values only through tojson, and a cloud's operators can override them."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import hypothesis
import pytest
import yaml
from hypothesis import strategies as st

from nimbus.runtime import templating


def test_values_cannot_become_yaml_structure() -> None:
    secret = templating.render(
        "cloudinit-secret.yaml.j2",
        name="web-1-cloudinit",
        namespace="demo",
        labels={"a": "b"},
        owner=[],
        user_data="#cloud-config\nhostname: x\n",
        network_data='evil: "value"\nkind: ClusterRole\n',
    )
    assert secret["kind"] == "Secret"
    assert secret["stringData"]["networkdata"] == 'evil: "value"\nkind: ClusterRole\n'


def test_an_override_replaces_the_builtin_template(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cloudinit-secret.yaml.j2").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ name | tojson }}\n"
        "  annotations: {cloud: ours}\n"
    )
    monkeypatch.setenv("NIMBUS_TEMPLATE_DIR", str(tmp_path))
    secret = templating.render("cloudinit-secret.yaml.j2", name="x")
    assert secret["metadata"] == {"name": "x", "annotations": {"cloud": "ours"}}


@pytest.mark.parametrize("expression", ["{{ name }}", "{{ name | upper }}", "{{ name|e }}"])
def test_a_template_without_tojson_is_refused(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, expression: str
) -> None:
    (tmp_path / "unsafe.yaml.j2").write_text(f"kind: {expression}\n")
    monkeypatch.setenv("NIMBUS_TEMPLATE_DIR", str(tmp_path))
    with pytest.raises(templating.TemplateError, match=r"must end in `\| tojson`"):
        templating.render("unsafe.yaml.j2", name="x")


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(templating.TemplateError) as refused:
        templating.render("cloudinit-secret.yaml.j2", name="x", namespace="demo")
    assert str(refused.value) == (
        "template cloudinit-secret.yaml.j2 needs values: labels, network_data, owner, user_data"
    )


def test_builtin_templates_are_all_safe() -> None:
    paths = sorted(templating.BUILTIN.glob("*.j2"))
    assert len(paths) >= 12, paths  # a wrong folder would check nothing
    for path in paths:
        templating._check(path.name, path.read_text())


# Text within the Basic Multilingual Plane: beyond it, JSON writes a surrogate pair, which YAML
# reads back as two broken halves (see the emoji test below).
_TEXT = st.text(st.characters(max_codepoint=0xFFFF, codec="utf-8"))
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)


# YAML reads a flow mapping's key only up to 1,024 characters; JSON has no such limit, and
# combining marks written as \u escapes reach it quickly. Hypothesis found this one.
_LONG_KEY = {"T\u033a\u033a\u0315o" * 60: None}


def _longest_key(value: Any) -> int:
    """The length of the longest mapping key's JSON text anywhere in value."""
    if isinstance(value, dict):
        keys = [len(json.dumps(key)) for key in value]
        return max(keys + [_longest_key(item) for item in value.values()], default=0)
    if isinstance(value, list):
        return max([_longest_key(item) for item in value], default=0)
    return 0


@hypothesis.given(name=_JSON, labels=_JSON, owner=_JSON, user_data=_JSON, network_data=_JSON)
@hypothesis.example(name=None, labels=None, owner=None, user_data=None, network_data=_LONG_KEY)
@hypothesis.example(
    name=None, labels=[{"k" * 1022: 1}], owner=None, user_data=None, network_data=None
)
@hypothesis.example(
    name=None, labels=[{"k" * 1023: 1}], owner=None, user_data=None, network_data=None
)
def test_values_come_back_as_parsing_their_json_text_would_give_them(**values: Any) -> None:
    """Rendering parses only the template's own text and puts each value in whole: each value is
    what parsing its JSON text gives, and the result is what parsing the whole rendered text
    gives, wherever YAML can parse that text."""
    secret = templating.render("cloudinit-secret.yaml.j2", namespace="demo", **values)
    assert secret == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": json.loads(json.dumps(values["name"])),
            "namespace": "demo",
            "labels": json.loads(json.dumps(values["labels"])),
            "ownerReferences": json.loads(json.dumps(values["owner"])),
        },
        "type": "Opaque",
        "stringData": {
            "userdata": json.loads(json.dumps(values["user_data"])),
            "networkdata": json.loads(json.dumps(values["network_data"])),
        },
    }
    template, _ = templating._template("cloudinit-secret.yaml.j2", None)
    text = template.render(namespace="demo", **values)
    if _longest_key(list(values.values())) > 1024:
        with pytest.raises(yaml.YAMLError, match="while parsing a flow mapping"):
            yaml.safe_load(text)
    else:
        assert secret == yaml.safe_load(text)


def test_a_value_inside_a_longer_scalar_is_parsed_as_text_would_be(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "note.yaml.j2").write_text(
        "kind: Note\nnote: see {{ name | tojson }}\n{{ key | tojson }}: {{ name | tojson }}\n"
    )
    monkeypatch.setenv("NIMBUS_TEMPLATE_DIR", str(tmp_path))
    note = templating.render("note.yaml.j2", name="web-1", key="server")
    assert note == {"kind": "Note", "note": 'see "web-1"', "server": "web-1"}


def test_what_a_caller_passed_is_not_what_it_gets_back() -> None:
    labels = {"app": "web"}
    secret = templating.render(
        "cloudinit-secret.yaml.j2", name="x", namespace="demo", labels=labels, owner=[],
        user_data="", network_data="",
    )  # fmt: skip
    secret["metadata"]["labels"]["app"] = "changed"
    assert labels == {"app": "web"}


def test_an_emoji_in_user_data_survives() -> None:
    """A character beyond the BMP comes back whole (parsing its JSON text as YAML split it)."""
    secret = templating.render(
        "cloudinit-secret.yaml.j2", name="x", namespace="demo", labels={}, owner=[],
        user_data="#cloud-config\nwrite_files: [{path: /motd, content: '🚀'}]\n", network_data="",
    )  # fmt: skip
    assert "🚀" in secret["stringData"]["userdata"]
    secret["stringData"]["userdata"].encode()  # no lone surrogates
