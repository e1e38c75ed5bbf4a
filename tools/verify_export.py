#!/usr/bin/env python3
"""Verify a Funnel Ledger period export on your own machine, with the Python standard library only.

    python3 tools/verify_export.py export.ndjson > result.json

Reads the NDJSON export of `GET /v1/audit/export` and, trusting nothing but the file:

1. recomputes every event's SHA-256 hash over the RFC 8785 canonical JSON of its record (the
   event line without `kind` and `hash`, including the `prev` hash it states);
2. checks each link the file can show: where two exported events have consecutive positions,
   the later one's `prev` must be the earlier one's `hash` (an export is a subsequence of the
   log, so events in between are not in it; `GET /v1/audit/verify` walks the whole chain);
3. recomputes the digest (SHA-256 over the 32-byte hashes in file order) and the counts, and
   compares them with the trailer;
4. recomputes the five numbers (and calls) of the period by rep and in total, folding the events by the
   contract's rules, independently of the service's code.

Prints one JSON document; exits 0 when every check passed, 1 otherwise, 2 if unreadable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

FORMAT = "funnel-ledger-export/1"
GENESIS = "0" * 64
RETRACTION = "event.retracted"
RECORD_FIELDS = (
    "position",
    "subject",
    "stream_version",
    "source",
    "id",
    "type",
    "schema_version",
    "time",
    "recorded_at",
    "data",
    "metadata",
    "prev",
)
FLOW_TYPES = (
    "deal.contract_signed",
    "deal.committee_approved",
    "deal.qualified",
    "lead.sourced",
    "visit.completed",
    "call.logged",
)
CONNECTED = ("answered", "connected", "reached")
"""Call outcomes that count as connected, compared ignoring (ASCII) case (contract §5)."""
STAGE_OF = {
    "lead.sourced": "lead",
    "deal.qualified": "opportunity",
    "deal.disqualified": "disqualified",
    "deal.eb_committed": "eb_committed",
    "deal.committee_approved": "committed",
    "deal.contract_signed": "won",
    "deal.lost": "lost",
}
OPEN_OPPORTUNITY = ("opportunity", "eb_committed", "committed")
MAX_PROBLEMS = 100
VISIT_KINDS_V0 = {"first": "FSI", "follow_up": "FUA"}
"""Visits stored at schema version 0 said `type: first | follow_up` where the contract says
`kind: FSI | FUA` (docs/schema-evolution.md); the export shows them as stored."""


class ExportError(Exception):
    """The file is not a readable export."""


def _no_floats(text: str) -> Any:
    raise ValueError(f"a float ({text}) is not part of the canonical form this tool checks")


_DECODER = json.JSONDecoder(parse_float=_no_floats)


def canonical(record: dict[str, Any]) -> bytes:
    """RFC 8785 JSON for records without floats: sorted keys, no spaces, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def instant(text: str) -> datetime:
    """An ISO 8601 instant with offset."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value


def with_instants(event: dict[str, Any]) -> dict[str, Any]:
    """The event line with its two instants parsed once (as `_time` and `_recorded_at`).

    The hash covers only RECORD_FIELDS, so these extra keys change nothing.
    """
    event["_time"] = instant(event["time"])
    event["_recorded_at"] = instant(event["recorded_at"])
    return event


def read_export(path: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The header, the event lines and the trailer of an export file."""
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    events: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                document = _DECODER.decode(line)
            except ValueError as exc:
                raise ExportError(f"line {number}: {exc}") from exc
            kind = document.get("kind")
            if kind == "header" and header is None and number == 1:
                header = document
            elif kind == "event" and header is not None and trailer is None:
                events.append(with_instants(document))
            elif kind == "trailer" and header is not None and trailer is None:
                trailer = document
            else:
                raise ExportError(f"line {number}: unexpected {kind!r} line")
    if header is None or trailer is None:
        raise ExportError("an export has a header line first and a trailer line last")
    if header.get("format") != FORMAT:
        raise ExportError(f"unknown format {header.get('format')!r}; this tool reads {FORMAT}")
    return header, events, trailer


@dataclass
class Findings:
    """What the checks found; the first problems are listed."""

    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    def add(self, problem: str) -> None:
        """Note one problem."""
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def check_chain(events: list[dict[str, Any]], findings: Findings) -> dict[str, int]:
    """Recompute each hash; check the links between consecutive positions and the order."""
    links = 0
    previous: dict[str, Any] | None = None
    for event in events:
        position = event.get("position")
        record = {name: event.get(name) for name in RECORD_FIELDS}
        if hashlib.sha256(canonical(record)).hexdigest() != event.get("hash"):
            findings.add(f"position {position}: hash_mismatch (the record does not hash to it)")
        if position == 1 and event.get("prev") != GENESIS:
            findings.add("position 1: broken_link (the first event must follow the genesis)")
        if previous is not None:
            if not isinstance(position, int) or position <= previous["position"]:
                findings.add(f"position {position}: out of order after {previous['position']}")
            elif position == previous["position"] + 1:
                links += 1
                if event.get("prev") != previous.get("hash"):
                    findings.add(f"position {position}: broken_link (prev is not the hash before)")
            if event["_recorded_at"] < previous["_recorded_at"]:
                findings.add(f"position {position}: recorded_at goes back in time")
        previous = event
    return {"events": len(events), "hashes_recomputed": len(events), "links_checked": links}


def check_selection(
    header: dict[str, Any], events: list[dict[str, Any]], findings: Findings
) -> None:
    """Every event belongs to the period's selection (the header states it)."""
    end, known_at = instant(header["period"]["to"]), instant(header["known_at"])
    exported = {(e["source"], e["id"]) for e in events if e["type"] != RETRACTION}
    for event in events:
        position = event["position"]
        if event["_recorded_at"] > known_at:
            findings.add(f"position {position}: recorded after known_at")
        if event["subject"].startswith(("rep:", "team:", "calendar:")):
            findings.add(f"position {position}: not an event of a deal")
        if event["type"] == RETRACTION:
            target = (event["data"].get("event_source"), event["data"].get("event_id"))
            if target not in exported:
                findings.add(f"position {position}: retracts an event missing from the export")
        elif event["_time"] >= end:
            findings.add(f"position {position}: occurred after the period")


def digest(events: list[dict[str, Any]]) -> str:
    """SHA-256 over the events' 32-byte hashes, in file order."""
    sha = hashlib.sha256()
    for event in events:
        sha.update(bytes.fromhex(event["hash"]))
    return sha.hexdigest()


@dataclass
class Tally:
    """One rep's (or the totals') numbers while the events are walked."""

    signings: dict[str, tuple[str, str]] = field(default_factory=dict)
    committed: set[str] = field(default_factory=set)
    qualified: set[str] = field(default_factory=set)
    sourced: set[str] = field(default_factory=set)
    fsi: int = 0
    fua: int = 0
    calls: int = 0
    connected_calls: int = 0
    talk_time_s: int = 0
    open_leads: int = 0
    open_opportunities: int = 0
    open_committed: int = 0

    def flow(self, event: dict[str, Any]) -> None:
        """Credit one counting event of the period."""
        deal, kind, data = event["subject"], event["type"], event["data"]
        if kind == "deal.contract_signed":
            self.signings[deal] = (str(data["amount"]), data["currency"])
        elif kind == "deal.committee_approved":
            self.committed.add(deal)
        elif kind == "deal.qualified":
            self.qualified.add(deal)
        elif kind == "lead.sourced":
            self.sourced.add(deal)
        elif kind == "call.logged":
            self.call(data)
        elif data.get("kind") == "FSI":
            self.fsi += 1
        else:
            self.fua += 1

    def call(self, data: dict[str, Any]) -> None:
        """Count an outbound call; a connected one's duration is talk time."""
        if data.get("direction") != "outbound":
            return
        self.calls += 1
        outcome = data.get("outcome")
        if isinstance(outcome, str) and outcome.isascii() and outcome.lower() in CONNECTED:
            self.connected_calls += 1
            self.talk_time_s += int(data.get("duration_s") or 0)

    def open(self, stage: str | None) -> None:
        """Count one deal open at the end of the period."""
        if stage == "lead":
            self.open_leads += 1
        elif stage in OPEN_OPPORTUNITY:
            self.open_opportunities += 1
            if stage == "committed":
                self.open_committed += 1

    def numbers(self) -> dict[str, Any]:
        """The five numbers, visits split, closed value per currency and open deals."""
        value: dict[str, Decimal] = {}
        with localcontext() as context:
            context.prec = 60
            for amount, currency in self.signings.values():
                value[currency] = value.get(currency, Decimal(0)) + Decimal(amount)
        return {
            "closed_deals": len(self.signings),
            "committed_deals": len(self.committed),
            "opportunities": len(self.qualified),
            "leads": len(self.sourced),
            "client_visits": self.fsi + self.fua,
            "fsi_visits": self.fsi,
            "fua_visits": self.fua,
            "calls": self.calls,
            "connected_calls": self.connected_calls,
            "talk_time_s": self.talk_time_s,
            "closed_value": {c: format(value[c], "f") for c in sorted(value)},
            "open": {
                "leads": self.open_leads,
                "opportunities": self.open_opportunities,
                "committed_deals": self.open_committed,
            },
        }

    def is_zero(self) -> bool:
        """Whether this key has nothing to show (it then gets no row)."""
        numbers = self.numbers()
        counts = (
            "closed_deals",
            "committed_deals",
            "opportunities",
            "leads",
            "client_visits",
            "calls",
        )
        return not (
            any(numbers[name] for name in counts)
            or any(Decimal(value) for value in numbers["closed_value"].values())
            or any(numbers["open"].values())
        )


@dataclass
class Deal:
    """What the open numbers need of a deal: its stage and owner."""

    stage: str | None = None
    owner: str | None = None

    def apply(self, event: dict[str, Any]) -> None:
        """Fold one event (contract §3 and §4)."""
        kind, data = event["type"], event["data"]
        if kind == "deal.eb_departed":
            if self.stage == "eb_committed":
                self.stage = "opportunity"
            return
        if kind in STAGE_OF:
            self.stage = STAGE_OF[kind]
        if kind == "lead.sourced":
            self.owner = data["rep_id"]
        elif kind == "deal.reassigned":
            self.owner = data["to_rep_id"]


def known_shape(event: dict[str, Any]) -> bool:
    """Whether this tool knows how to read the event's data (its schema version)."""
    version = event.get("schema_version", 1)
    return bool(version == 1 or (version == 0 and event["type"] == "visit.completed"))


def in_contract_shape(event: dict[str, Any]) -> dict[str, Any]:
    """The event line with its data in the contract's shape (lines lacking a version have it)."""
    if event["type"] == "visit.completed" and event.get("schema_version", 1) == 0:
        data = {k: v for k, v in event["data"].items() if k != "type"}
        return {**event, "data": {**data, "kind": VISIT_KINDS_V0[event["data"]["type"]]}}
    return event


def scoreboard(header: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """The period's five numbers by rep and in total, from the exported events alone."""
    events = [in_contract_shape(event) for event in events]
    start, end = instant(header["period"]["from"]), instant(header["period"]["to"])
    known_at = instant(header["known_at"])
    known = [e for e in events if e["_recorded_at"] <= known_at]
    gone = {
        (e["data"]["event_source"], e["data"]["event_id"]) for e in known if e["type"] == RETRACTION
    }
    kept = [
        e
        for e in known
        if e["type"] != RETRACTION
        and (e["source"], e["id"]) not in gone
        and not e["subject"].startswith(("rep:", "team:", "calendar:"))
    ]
    kept.sort(key=lambda e: (e["_time"], e["position"]))
    reps: dict[str | None, Tally] = {}
    totals = Tally()
    deals: dict[str, Deal] = {}
    for event in kept:
        occurred = event["_time"]
        if occurred >= end:
            continue
        deals.setdefault(event["subject"], Deal()).apply(event)
        if event["type"] in FLOW_TYPES and occurred >= start:
            reps.setdefault(event["data"]["rep_id"], Tally()).flow(event)
            totals.flow(event)
    for deal in deals.values():
        reps.setdefault(deal.owner, Tally()).open(deal.stage)
        totals.open(deal.stage)
    rows = [
        {"key": key, **tally.numbers()}
        for key, tally in sorted(reps.items(), key=lambda item: (item[0] is None, item[0] or ""))
        if not tally.is_zero()
    ]
    return {"rows": rows, "totals": totals.numbers()}


def verify(path: str) -> dict[str, Any]:
    """Every check on one export file, as a JSON-ready report."""
    header, events, trailer = read_export(path)
    findings = Findings()
    chain = check_chain(events, findings)
    check_selection(header, events, findings)
    computed = digest(events)
    retractions = sum(1 for e in events if e["type"] == RETRACTION)
    if computed != trailer.get("digest"):
        findings.add("the digest differs from the trailer's")
    if len(events) != trailer.get("events") or retractions != trailer.get("retractions"):
        findings.add("the counts differ from the trailer's")
    for event in events:
        if not known_shape(event):
            findings.add(
                f"position {event['position']}: schema version {event['schema_version']} "
                f"of {event['type']} is unknown to this tool"
            )
    board = scoreboard(header, [event for event in events if known_shape(event)])
    return {
        "ok": findings.problem_count == 0,
        "format": header["format"],
        "period": header["period"],
        "known_at": header["known_at"],
        "timezone": header.get("timezone"),
        "events": len(events),
        "retractions": retractions,
        "chain": chain,
        "digest": computed,
        "trailer_digest": trailer.get("digest"),
        "problem_count": findings.problem_count,
        "problems": findings.problems,
        "group_by": "rep",
        **board,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the checks on the file named on the command line; print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("export", help="an NDJSON file from GET /v1/audit/export")
    args = parser.parse_args(argv)
    try:
        report = verify(args.export)
    except (OSError, ExportError, KeyError, TypeError, ValueError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
