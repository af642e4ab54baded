"""Delivery reports (herald.deliveries.v1) as people read them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf.message import DecodeError

from herald.logs import mask
from herald.v1 import deliveries_pb2
from herald_dev.kafka_read import RawRecord

REPORT_TYPE = deliveries_pb2.DeliveryReport.DESCRIPTOR.full_name
STATUS_PREFIX = "DELIVERY_STATUS_"
ERROR_PREFIX = "FCM_ERROR_CODE_"


def decode(record: RawRecord) -> deliveries_pb2.DeliveryReport | None:
    """The report in ``record``; None for anything that is not one."""
    if record.value is None or record.type_name != REPORT_TYPE:
        return None
    try:
        return deliveries_pb2.DeliveryReport.FromString(record.value)
    except DecodeError:
        return None


def status_name(report: deliveries_pb2.DeliveryReport) -> str:
    return deliveries_pb2.DeliveryStatus.Name(report.status).removeprefix(STATUS_PREFIX).lower()


def view(report: deliveries_pb2.DeliveryReport, timestamp_ms: int) -> dict[str, Any]:
    """A JSON-ready summary; the target is masked."""
    error = ""
    if report.error_code:
        error = deliveries_pb2.FcmErrorCode.Name(report.error_code).removeprefix(ERROR_PREFIX)
    return {
        "at": datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat(timespec="milliseconds"),
        "notification_id": report.notification_id,
        "user_id": report.user_id,
        "status": status_name(report),
        "target": mask(report.target.value, 4) if report.HasField("target") else "",
        "attempts": report.attempts,
        "latency_ms": report.latency_ms,
        "error": " ".join(part for part in (error, report.error_message) if part),
    }


def line(summary: dict[str, Any]) -> str:
    """One terminal line for a summary from ``view``."""
    text = (
        f"{summary['at']}  {summary['status']:<15} {summary['user_id']:<20} "
        f"{summary['target'] or '-':<12} {summary['notification_id']}  "
        f"attempts={summary['attempts']} latency={summary['latency_ms']}ms"
    )
    if summary["error"]:
        text += f"  {summary['error']}"
    return text
