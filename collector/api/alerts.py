"""``POST /alerts/webhook``: Alertmanager's webhook, so alert history sits in the activity log."""

from typing import Any, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from collector.activity import log_activity
from collector.api.deps import Actor, CollectorDep, StoredText, UtcDateTime
from collector.api.schemas import AlertsReceived, error_responses

router = APIRouter(tags=["alerts"])
_FIRING_STATUS = {"critical": "error", "warning": "warning"}


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    status: Literal["firing", "resolved"]
    labels: dict[StoredText, StoredText]
    annotations: dict[StoredText, StoredText] = Field(default_factory=dict)
    starts_at: UtcDateTime | None = Field(default=None, alias="startsAt")
    ends_at: UtcDateTime | None = Field(default=None, alias="endsAt")
    generator_url: StoredText | None = Field(default=None, alias="generatorURL")
    fingerprint: StoredText | None = None


class WebhookPayload(BaseModel):
    """Alertmanager's webhook body (version 4); unknown fields are tolerated."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    version: str = "4"
    status: Literal["firing", "resolved"]
    receiver: StoredText | None = None
    alerts: list[Alert]
    external_url: str | None = Field(default=None, alias="externalURL")


def _message(alert: Alert) -> str:
    name = alert.labels.get("alertname", "alert")
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    return f"[{alert.status.upper()}] {name}" + (f": {summary}" if summary else "")


@router.post(
    "/alerts/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=AlertsReceived,
    responses=error_responses(401, 422),
)
def alertmanager_webhook(
    payload: WebhookPayload, collector: CollectorDep, _actor: Actor
) -> dict[str, Any]:
    """Each alert, firing or resolved, becomes one ``alert`` activity entry."""
    for alert in payload.alerts:
        severity = alert.labels.get("severity", "")
        entry_status = (
            "success" if alert.status == "resolved" else _FIRING_STATUS.get(severity, "info")
        )
        job = alert.labels.get("job")
        log_activity(
            "alert",
            _message(alert),
            status=entry_status,
            job=job if job and collector.settings.job(job) is not None else None,
            details={
                "status": alert.status,
                "labels": alert.labels,
                "annotations": alert.annotations,
                "starts_at": alert.starts_at.isoformat() if alert.starts_at else None,
                "ends_at": alert.ends_at.isoformat() if alert.ends_at else None,
                "generator_url": alert.generator_url,
                "fingerprint": alert.fingerprint,
                "receiver": payload.receiver,
            },
        )
    return {"received": len(payload.alerts)}
