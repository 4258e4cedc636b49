"""The informer cache's rules, as tables: which of two copies is kept, what a list, a write's
answer and a deletion do to what it holds."""

from __future__ import annotations

from typing import Any

import pytest

from nimbus.k8s import reflector


def _user(name: str, version: str, **spec: Any) -> dict[str, Any]:
    return {"kind": "User", "metadata": {"name": name, "resourceVersion": version}, "spec": spec}


@pytest.mark.parametrize(
    ("candidate", "current", "newer"),
    [
        ("7", None, True),
        ("8", "7", True),
        ("7", "7", True),
        ("10", "9", True),  # numbers, not strings: "10" < "9" as text
        ("9", "10", False),
        ("abc", "7", True),  # not etcd's: taken as newer
    ],
)  # fmt: skip
def test_the_higher_resource_version_wins(candidate: str, current: str | None, newer: bool) -> None:
    kept = _user("alice", current) if current is not None else None
    assert reflector.newer(_user("alice", candidate), kept) is newer


def _cache() -> reflector.Reflector:
    return reflector.Reflector(None, "identity.nimbus.dev/v1alpha1", "User")  # type: ignore[arg-type]


def test_a_write_s_answer_is_kept_only_if_newer_and_of_the_kind() -> None:
    cache = _cache()
    cache.observe(_user("alice", "5", enabled=True))
    cache.observe(_user("alice", "4", enabled=False))  # an older answer arriving late
    assert cache.get("alice") == _user("alice", "5", enabled=True)
    cache.observe({"kind": "Project", "metadata": {"name": "alice", "resourceVersion": "9"}})
    cache.observe({"kind": "Status", "metadata": {}})
    assert cache.get("alice") == _user("alice", "5", enabled=True)
    assert not cache.synced


def test_a_list_replaces_all_but_what_was_written_after_it() -> None:
    cache = _cache()
    cache.observe(_user("alice", "12", enabled=False))  # written after the list was read
    cache.observe(_user("gone", "3"))  # deleted before the list: not in it
    cache._replace([_user("alice", "10", enabled=True), _user("bob", "11")])
    assert cache.synced
    assert sorted(cache.objects) == ["alice", "bob"]
    assert cache.get("alice") == _user("alice", "12", enabled=False)


def test_a_deletion_removes_what_it_follows_only() -> None:
    cache = _cache()
    cache._replace([_user("alice", "10"), _user("bob", "20")])
    cache._deleted(_user("alice", "15"))
    cache._deleted(_user("bob", "19"))  # bob was made again since: the newer one stays
    assert sorted(cache.objects) == ["bob"]


def _image(namespace: str, name: str, version: str) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace, "resourceVersion": version}
    return {"kind": "Image", "metadata": metadata}


def test_a_namespaced_kind_is_kept_by_namespace_and_name() -> None:
    cache = reflector.Reflector(None, "image.nimbus.dev/v1alpha1", "Image")  # type: ignore[arg-type]
    cache._replace([_image("alpha", "cirros", "1"), _image("beta", "cirros", "2")])
    assert cache.get("cirros", "alpha") == _image("alpha", "cirros", "1")
    assert cache.get("cirros", "beta") == _image("beta", "cirros", "2")
    assert cache.get("cirros") is None  # no namespace: not another project's of that name
    cache.observe(_image("alpha", "cirros", "3"))
    cache._deleted(_image("beta", "cirros", "4"))
    assert sorted(cache.objects) == ["alpha/cirros"]
    assert cache.get("cirros", "alpha") == _image("alpha", "cirros", "3")
