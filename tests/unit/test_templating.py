"""Templates take values only through tojson, and a cloud's operators can override them."""

from __future__ import annotations

import pathlib

import pytest

from nimbus import templating


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
    for path in templating.BUILTIN.glob("*.j2"):
        templating._check(path.name, path.read_text())
