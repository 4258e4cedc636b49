"""The operator's log of kopf's outcomes: a webhook's refusal is an INFO line with its reason,
not kopf's ERROR; waiting is not logged; a webhook that breaks stays an ERROR.

The records are logged as kopf logs them (its `kopf.objects` logger, its words, the object
reference it attaches); tests/integration/test_operator_admission.py holds the operator's log
free of the ERROR line on the real control plane."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from nimbus.runtime import logs

REF = {"apiVersion": "compute.nimbus.dev/v1alpha1", "kind": "Server", "name": "web",
       "namespace": "demo", "uid": None}  # fmt: skip
REASON = 'spec.flavor: flavor "m1.hueg" not found; available: m1.small, m1.tiny'


@pytest.fixture
def kopf_objects() -> Iterator[logging.Logger]:
    logger = logging.getLogger("kopf.objects")
    outcomes = logs.KopfOutcomes()
    logger.addFilter(outcomes)
    try:
        yield logger
    finally:
        logger.removeFilter(outcomes)


def test_a_refusal_is_an_info_line_with_the_object_and_its_reason(
    kopf_objects: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    kopf_objects.error(f"Webhook 'servers' failed permanently: {REASON}", extra={"k8s_ref": REF})
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("nimbus.admission", "INFO", f"Webhook 'servers' refused Server demo/web: {REASON}")
    ]


def test_a_refusal_is_not_logged_at_the_default_level(
    kopf_objects: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    kopf_objects.error(f"Webhook 'servers' failed permanently: {REASON}", extra={"k8s_ref": REF})
    assert caplog.records == []


def test_waiting_is_not_logged_and_a_broken_webhook_stays_an_error(
    kopf_objects: logging.Logger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    kopf_objects.error("Handler 'stack' failed temporarily: stack create in progress")
    broken = "Webhook 'servers' failed with an exception and will stop now: KeyError('spec')"
    kopf_objects.error(broken)
    kopf_objects.error("Handler 'stack' failed permanently: bad template")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", broken),
        ("ERROR", "Handler 'stack' failed permanently: bad template"),
    ]
