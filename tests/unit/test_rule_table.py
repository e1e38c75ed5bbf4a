"""The rule table is the one place that states the rules: every other copy is held equal to it."""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import get_args

import pytest

from service.api.routes.deals import StageName
from service.api.schemas.reads import StagesModel
from service.events.vocabulary import Metric, VisitCompleted
from service.projections import compute_funnel
from service.projections.rule_text import markdown, migration, seed_statements, sql_list, sql_text
from service.projections.rules import (
    CONNECTED_OUTCOMES,
    RULES,
    FlowKind,
    Measure,
    OpenGroup,
    RuleTable,
    StageEffect,
    StageRule,
    SubCount,
    just_before,
)
from service.projections.scoreboard import OpenNumbers, ScoreNumbers
from service.projections.targets import METRICS
from service.web import i18n
from service.web.charts import CLOSED_STAGES, FUNNEL_STAGES, funnel_bars

ROOT = Path(__file__).resolve().parents[2]


def test_stages_are_in_funnel_order_with_the_exits_last() -> None:
    assert RULES.stage_names == (
        "lead",
        "opportunity",
        "eb_committed",
        "committed",
        "won",
        "lost",
        "disqualified",
    )
    assert RULES.funnel_stages == RULES.stage_names[:5]
    assert RULES.exit_stages == ("lost", "disqualified")


def test_the_contract_rules_are_in_the_table() -> None:
    # Contract §3: eb_departed moves only an eb_committed deal back; §5: flows and open groups.
    assert RULES.effects["deal.eb_departed"] == StageEffect("opportunity", "eb_committed")
    assert not RULES.effects["deal.eb_departed"].applies("committed")
    assert RULES.effects["deal.eb_departed"].applies("eb_committed")
    assert {kind.number: kind.event_types for kind in RULES.flows} == {
        "closed_deals": ("deal.contract_signed",),
        "committed_deals": ("deal.committee_approved",),
        "opportunities": ("deal.qualified",),
        "leads": ("lead.sourced",),
        "client_visits": ("visit.completed",),
        "calls": ("call.logged",),
    }
    calls = RULES.kind_of("calls")
    assert calls.per_event and calls.only == (("direction", "outbound"),)
    assert calls.subcount == SubCount("connected_calls", "outcome", CONNECTED_OUTCOMES)
    assert calls.measure == Measure("talk_time_s", "duration_s", of_subcount=True)
    assert RULES.event_numbers == ("calls", "connected_calls", "talk_time_s")
    assert {group.number: group.stages for group in RULES.open_groups} == {
        "leads": ("lead",),
        "opportunities": ("opportunity", "eb_committed", "committed"),
        "committed_deals": ("committed",),
    }
    assert RULES.open_by_stage["committed"] == (1, 2)


def _table(**changes: object) -> RuleTable:
    fields = {field.name: getattr(RULES, field.name) for field in dataclasses.fields(RULES)}
    return RuleTable(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {"stages": (*RULES.stages, StageRule("lead", "Lead again", "#000"))},
        {"effects": MappingProxyType({"deal.x": StageEffect("nowhere")})},
        {"open_groups": (OpenGroup("leads", ("nowhere",)),)},
        {"flows": (*RULES.flows, FlowKind("again", "leads", ("lead.sourced",)))},
        {"flows": tuple(f for f in RULES.flows if not f.money)},
        {"flows": (*RULES.flows, FlowKind("calls", "calls", ("call.logged",), per_event=True))},
        {"flows": (*RULES.flows, FlowKind("x", "x", ("x.y",), only=(("a", "b"),)))},
        {
            "flows": (
                *RULES.flows,
                FlowKind("x", "x", ("x.y",), True, measure=Measure("m", "f", True)),
            )
        },
        {
            "flows": (
                *RULES.flows,
                FlowKind("x", "x", ("x.y",), True, subcount=SubCount("s", "f", ("A",))),
            )
        },
        {
            "flows": (
                *RULES.flows,
                FlowKind("x", "x", ("x.y",), True, split_field="f", only=(("a", "b"),)),
            )
        },
    ],
)
def test_an_inconsistent_table_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"stage|kind|event type|sub-count|filtered|split"):
        _table(**changes)


def test_just_before_is_the_previous_microsecond() -> None:
    end = datetime(2026, 4, 1, tzinfo=UTC)
    assert just_before(end) == end - timedelta(microseconds=1)
    assert just_before(end) < end and just_before(end).date().day == 31


def test_the_api_types_equal_the_table() -> None:
    assert get_args(StageName) == RULES.stage_names
    assert tuple(StagesModel.model_fields) == RULES.stage_names
    assert tuple(compute_funnel([], as_of=None, known_at=None, rep_id=None)) == RULES.stage_names
    assert set(get_args(Metric)) == {flow.number for flow in RULES.flows}
    assert get_args(Metric) == METRICS
    split_values = get_args(VisitCompleted.model_fields[RULES.split_field].annotation)
    assert set(split_values) == set(RULES.split)


def test_the_numbers_of_the_table_are_the_scoreboard_fields() -> None:
    fields = {field.name for field in dataclasses.fields(ScoreNumbers)}
    assert {flow.number for flow in RULES.flows} | set(RULES.split.values()) <= fields
    assert set(RULES.event_numbers) <= fields
    assert tuple(field.name for field in dataclasses.fields(OpenNumbers)) == RULES.open_numbers


def test_the_charts_take_order_colours_and_labels_from_the_table() -> None:
    assert (*FUNNEL_STAGES, *CLOSED_STAGES) == RULES.stage_names
    funnel, closed, _ = funnel_bars(dict.fromkeys(RULES.stage_names, 1))
    looks = {stage.name: (stage.label, stage.colour) for stage in RULES.stages}
    assert {bar.stage: (bar.label, bar.colour) for bar in (*funnel, *closed)} == looks
    english = i18n.translator("en")
    for stage in RULES.stages:
        # The English catalogue may name a stage; if it does, it says what the table says.
        assert english.get(f"stage_{stage.name}", stage.label) == stage.label


def test_the_docs_table_is_generated_from_the_rules() -> None:
    text = (ROOT / "docs" / "read-models.md").read_text("utf-8")
    found = re.search(r"<!-- rules:begin -->\n(.*?)<!-- rules:end -->", text, re.DOTALL)
    assert found is not None
    assert found.group(1) == markdown(RULES), (
        "run python -m service.projections.rule_text --markdown"
    )


def _seed_of(source: str, name: str) -> tuple[str, ...]:
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, name, "exec"), module.__dict__)
    seed: tuple[str, ...] = module.SEED
    return seed


def test_the_generated_migration_seeds_the_table() -> None:
    source = migration(RULES, "9999", "0011", "2026-12-01")
    assert list(_seed_of(source, "generated")) == seed_statements(RULES)
    assert 'down_revision: str | None = "0011"' in source
    assert max(len(line) for line in source.splitlines()) <= 100


def _latest_seed() -> tuple[str, tuple[str, ...]]:
    """The SEED of the newest migration that has one."""
    versions = sorted((ROOT / "migrations" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    for path in reversed(versions):
        source = path.read_text("utf-8")
        if "\nSEED = (" in source:
            return path.name, _seed_of(source, path.stem)
    raise AssertionError("no migration seeds the rules tables")


def test_the_newest_seed_migration_holds_the_table() -> None:
    # A change to the table needs a new seed migration (the reporting views read its rows).
    name, seed = _latest_seed()
    assert list(seed) == seed_statements(RULES), (
        f"{name} seeds other rules: add the output of "
        "`python -m service.projections.rule_text --migration` as a new migration"
    )


def test_sql_constants_are_quoted() -> None:
    assert sql_text("it's") == "'it''s'"
    assert sql_list([None, True, 3, "a"]) == "NULL, true, 3, 'a'"


# Where a stage name or a counted event type may still be written out, and why.
_ALLOWED = {
    # The table itself.
    "service/projections/rules.py": None,
    # The vocabulary: the data shape of each event type (not what it does to a deal).
    "service/events/vocabulary.py": None,
    # The fold's other field effects (owner, account, amount, EB, visit and call counts).
    "service/projections/deal.py": set(RULES.flow_kinds) | set(RULES.effects),
    # The stage query parameter's type, for the OpenAPI document (held equal above).
    "service/api/routes/deals.py": set(RULES.stage_names),
    # A column heading of the audit report ("committed" deals), not a stage.
    "service/cli/audit.py": {"committed"},
    # The weekly meeting's names of what a deal did in the week (its headings), not stages.
    "service/application/weekly_meeting.py": {"won", "lost", "committed", "qualified"},
}
# Writers of events, not readers: the demo's story, the vendors' mappings and importers, and
# the upcasters (which write an old shape's data in the current one).
_WRITERS = (
    "service/demo.py",
    "service/webhooks/",
    "service/importers/",
    "service/events/upcasting.py",
)


def _rule_words() -> set[str]:
    return (
        set(RULES.stage_names)
        | set(RULES.effects)
        | set(RULES.flow_kinds)
        | {flow.name for flow in RULES.flows}
        | set(RULES.split)
    )


def _named(value: str, words: set[str]) -> set[str]:
    """The rule words a string constant is, or quotes as an SQL literal."""
    return {word for word in words if value == word or f"'{word}'" in value}


def test_no_other_module_writes_the_rules_out() -> None:
    words = _rule_words()
    found: list[str] = []
    for path in sorted((ROOT / "service").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(_WRITERS):
            continue
        allowed = _ALLOWED.get(name, set())
        if allowed is None:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.extend(
                    f"{name}:{node.lineno} {word}"
                    for word in sorted(_named(node.value, words) - allowed)
                )
    assert found == []


def test_the_scan_finds_a_rule_written_out() -> None:
    words = _rule_words()
    assert _named("count(*) FILTER (WHERE stage = 'lead')", words) == {"lead"}
    assert _named("deal.contract_signed", words) == {"deal.contract_signed"}
    assert _named("a lead", words) == set()


@pytest.mark.parametrize(
    ("data", "counts", "connected", "talk"),
    [
        ({"direction": "outbound", "duration_s": 60, "outcome": "Answered"}, True, True, 60),
        ({"direction": "outbound", "duration_s": 60, "outcome": "REACHED"}, True, True, 60),
        (
            {"direction": "outbound", "duration_s": 60, "outcome": "Left voicemail"},
            True,
            False,
            None,
        ),
        ({"direction": "outbound", "duration_s": 60}, True, False, None),
        ({"direction": "outbound", "duration_s": 60, "outcome": "conneCted"}, True, True, 60),
        # Not ASCII: never "connected", whatever lower() would make of it.
        (
            {"direction": "outbound", "duration_s": 9, "outcome": "ANSWERED\u0130"},
            True,
            False,
            None,
        ),
        ({"direction": "inbound", "duration_s": 60, "outcome": "answered"}, False, True, 60),
    ],
)
def test_a_call_counts_by_direction_outcome_and_duration(
    data: dict[str, object], counts: bool, connected: bool, talk: int | None
) -> None:
    calls = RULES.kind_of("calls")
    assert calls.admits(data) is counts
    assert calls.in_subcount(data) is connected
    assert calls.measured(data) == talk
