"""What the operator's log says of kopf's outcomes. kopf logs each handler's outcome in its
`kopf.objects` logger; two of them are not errors in Nimbus:

- a reconciliation waiting for something (a `kopf.TemporaryError`): the object's conditions
  say what it waits for, so the line is dropped;
- an admission webhook refusing a request (a `kopf.AdmissionError`, which kopf logs as
  `ERROR Webhook 'servers' failed permanently: <reason>`): the webhook did its work, so the
  line becomes an INFO line of `nimbus.admission` with the object and the reason.

A webhook that breaks (any other exception) is still kopf's ERROR line, with its traceback.
"""

from __future__ import annotations

import logging
import re

# kopf's words for a webhook whose handler raised kopf.AdmissionError (a PermanentError).
REFUSAL = re.compile(r"^(?P<webhook>Webhook '[^']*') failed permanently: (?P<reason>.*)$", re.S)
ADMISSION = logging.getLogger("nimbus.admission")


def _what(record: logging.LogRecord) -> str:
    """The object kopf's record is about: `Server demo/web`, or the kind alone if unnamed."""
    ref = getattr(record, "k8s_ref", None) or {}
    name, namespace = ref.get("name"), ref.get("namespace")
    where = f"{namespace}/{name}" if namespace and name else name or ""
    return " ".join(part for part in (ref.get("kind") or "", where) if part) or "a request"


class KopfOutcomes(logging.Filter):
    """Installed on `kopf.objects`: drops kopf's "failed temporarily" lines and turns a
    webhook's refusal into an INFO line of `nimbus.admission` (shown when that logger's level
    lets INFO through, e.g. NIMBUS_LOG_LEVEL=INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "failed temporarily" in message:
            return False
        refused = REFUSAL.match(message)
        if refused is None:
            return True
        if ADMISSION.isEnabledFor(logging.INFO):
            ADMISSION.info(
                "%s refused %s: %s", refused["webhook"], _what(record), refused["reason"]
            )
        return False


def install() -> None:
    """Filter kopf's per-object log (kopf.objects) as this module says."""
    logging.getLogger("kopf.objects").addFilter(KopfOutcomes())
