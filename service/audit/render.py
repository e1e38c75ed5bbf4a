"""Audit answers as JSON: the same bodies for the HTTP API and `funnel-ledger … --json`."""

from __future__ import annotations

from typing import Any

from service.audit.compare import Difference
from service.audit.replay import ReplayReport
from service.store.chain.hashing import iso
from service.store.chain.verifier import ChainReport


def _difference_json(difference: Difference) -> dict[str, Any]:
    return {
        "scope": difference.scope,
        "key": difference.key,
        "fields": list(difference.fields),
        "replay": None if difference.replay is None else difference.replay.to_json(),
        "projection": None if difference.projection is None else difference.projection.to_json(),
    }


def replay_json(report: ReplayReport, period: str | None = None) -> dict[str, Any]:
    """The body of `GET /v1/audit/replay`."""
    board = report.board
    assert board.known_at is not None
    # The replay recomputes the five numbers only: no targets, so no working days either.
    numbers = {name: value for name, value in board.to_json().items() if name != "working_days"}
    return {
        **numbers,
        "from": iso(board.start),
        "to": iso(board.end),
        "known_at": iso(board.known_at),
        "period": period,
        "events_considered": report.events_considered,
        "events_folded": report.events_folded,
        "retractions": report.retractions,
        "digest": report.digest,
        "projection_matches": report.projection_matches,
        "differences": [_difference_json(d) for d in report.differences],
        "position": report.read_models_position,
    }


def verify_json(report: ChainReport) -> dict[str, Any]:
    """The body of `GET /v1/audit/verify`."""
    problem = report.first_break
    return {
        "ok": report.ok,
        "head_position": report.head_position,
        "verified_through": report.verified_through,
        "head_hash": report.last_hash.hex() if report.ok and report.last_hash else None,
        "first_break": None
        if problem is None
        else {"position": problem.position, "reason": problem.reason, "detail": problem.detail},
        "out_of_range": {
            "count": report.out_of_range_count,
            "positions": list(report.out_of_range),
        },
    }
