"""The scoreboard and the funnel from the read models: the SQL form of the pure fold.

`tests/integration/test_read_models.py` proves these answers equal `compute_scoreboard` and
`compute_funnel` on generated histories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.projections.accounts import account_names
from service.projections.deal import STAGES
from service.projections.rule_text import sql_list, sql_text
from service.projections.rules import RULES, just_before
from service.projections.scoreboard import (
    ALL_KEY,
    GroupBy,
    OpenNumbers,
    Scoreboard,
    ScoreNumbers,
    ScoreRow,
)
from service.projections.teams import TeamHistory, team_at
from service.store.projection.read_model_writer import LIVE, Tables
from service.store.queries.accounts import deal_accounts_known_at
from service.store.queries.teams import team_history_known_at, team_intervals

_TEAM_JOIN = (
    "LEFT JOIN unnest(CAST(:t_rep AS text[]), CAST(:t_team AS text[]), "
    "CAST(:t_from AS timestamptz[]), CAST(:t_to AS timestamptz[])) AS ti(rep_id, team_id, "
    "valid_from, valid_to) ON ti.rep_id = f.rep_id AND f.occurred_at >= ti.valid_from "
    "AND (ti.valid_to IS NULL OR f.occurred_at < ti.valid_to)"
)
_ACCOUNT_JOIN = (
    "LEFT JOIN unnest(CAST(:a_deal AS text[]), CAST(:a_key AS text[])) AS da(deal_id, "
    "account_key) ON da.deal_id = {alias}.deal_id"
)
"""Each deal's account key at the period's end (rows by account), passed as two arrays."""
_KEY = {"rep": "f.rep_id", "team": "ti.team_id", "all": "'all'", "account": "da.account_key"}
_JOINS = {"team": _TEAM_JOIN, "account": _ACCOUNT_JOIN.format(alias="f")}


def _counting(tables: Tables, group_by: GroupBy) -> str:
    join = _JOINS.get(group_by, "")
    return (
        f"SELECT f.*, {_KEY[group_by]} AS key FROM {tables.facts} f {join} "
        "WHERE f.occurred_at >= :start AND f.occurred_at < :end AND f.recorded_at <= :k "
        "AND (f.retracted_at IS NULL OR f.retracted_at > :k)"
    )


DEAL_KINDS: Mapping[str, str] = RULES.deal_kinds
"""Kind → number, for the kinds counted as distinct deals (from the rule table)."""
SPLIT: Mapping[str, str] = RULES.split
"""The split kind's values (FSI, FUA) → the number each counts in."""
_PER_EVENT_KINDS = sql_list([flow.name for flow in RULES.flows if flow.per_event])
_MONEY_KIND = sql_text(RULES.money_kind.name)
_SPLIT_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE visit_kind = {sql_text(value)}) AS {number}"
    for value, number in SPLIT.items()
)
EVENT_NUMBERS: Sequence[str] = RULES.event_numbers
"""The numbers of the kinds counted per event besides visits (calls): counts and sums."""


def _event_counts() -> str:
    """Each event kind's count, sub-count and measure (`RULES.event_kinds`), as SQL columns."""
    columns: list[str] = []
    for flow in RULES.event_kinds:
        kind = sql_text(flow.name)
        columns.append(f"count(*) FILTER (WHERE kind = {kind}) AS {flow.number}")
        if flow.subcount is not None:
            number = flow.subcount.number
            columns.append(
                f"count(*) FILTER (WHERE kind = {kind} AND visit_kind = {sql_text(number)}) "
                f"AS {number}"
            )
        if flow.measure is not None:
            columns.append(
                f"coalesce(sum(measure) FILTER (WHERE kind = {kind}), 0)::int8 "
                f"AS {flow.measure.number}"
            )
    return "".join(f", {column}" for column in columns)


_EVENT_COUNTS = _event_counts()
_OPEN_COUNTS = ", ".join(
    f"count(*) FILTER (WHERE stage IN ({sql_list(group.stages)})) AS {group.number}"
    for group in RULES.open_groups
)


def _flow_sql(tables: Tables, group_by: GroupBy) -> str:
    """Counts that need no DISTINCT: single facts count as deals; visits count as rows.

    Facts of a (deal, kind) that has several (flagged at write time) are left out here and
    counted distinctly from `_repeats_sql`, so PostgreSQL can aggregate by hashing.
    """
    own_flag = "repeats_for_rep" if group_by == "rep" else "repeats_for_deal"
    counts = ", ".join(
        f"count(*) FILTER (WHERE kind = {sql_text(kind)} AND NOT {own_flag}) AS {name}, "
        f"count(*) FILTER (WHERE kind = {sql_text(kind)} AND NOT repeats_for_deal) "
        f"AS total_{name}"
        for kind, name in DEAL_KINDS.items()
    )
    return (
        f"WITH counting AS ({_counting(tables, group_by)}) "
        f"SELECT key, GROUPING(key) AS is_total, {counts}, {_SPLIT_COUNTS}{_EVENT_COUNTS} "
        "FROM counting GROUP BY GROUPING SETS ((key), ())"
    )


def _repeats_sql(tables: Tables, group_by: GroupBy) -> str:
    """Per (key, kind) and per kind overall, the distinct deals among the counting facts whose
    (deal, kind) has several (by rep, a rep's own repeats only: `repeats_for_rep`)."""
    own = "repeats_for_rep" if group_by == "rep" else "true"
    return (
        f"WITH counting AS ({_counting(tables, group_by)} AND f.repeats_for_deal "
        f"AND f.kind NOT IN ({_PER_EVENT_KINDS})) "
        "SELECT key, GROUPING(key) AS is_total, kind, "
        f"count(DISTINCT deal_id) FILTER (WHERE {own}) AS per_key, "
        "count(DISTINCT deal_id) AS overall "
        "FROM counting GROUP BY GROUPING SETS ((key, kind), (kind))"
    )


def _add_repeats(
    rows: Iterable[tuple[str | None, bool, str, int]],
    keys: dict[str | None, _Numbers],
    totals: _Numbers,
) -> None:
    """Add the distinct deals among repeated facts to the single-fact counts."""
    for key, is_total, kind, deals in rows:
        if not deals:
            continue
        numbers = totals if is_total else keys.setdefault(key, _Numbers())
        name = DEAL_KINDS[kind]
        numbers.flow = {**numbers.flow, name: numbers.flow.get(name, 0) + deals}


def _value_sql(tables: Tables, group_by: GroupBy) -> str:
    latest = "ORDER BY {by}, deal_id, occurred_at DESC, position DESC"
    return (
        f"WITH counting AS ({_counting(tables, group_by)} AND f.kind = {_MONEY_KIND}) "
        "SELECT false AS is_total, key, currency, sum(amount) AS value FROM ("
        "SELECT DISTINCT ON (key, deal_id) key, amount, currency FROM counting "
        f"{latest.format(by='key')}) AS per_key GROUP BY key, currency "
        "UNION ALL SELECT true, NULL, currency, sum(amount) FROM ("
        "SELECT DISTINCT ON (deal_id) amount, currency FROM counting "
        f"{latest.format(by='deal_id')}) AS per_deal GROUP BY currency"
    )


def _open_sql(tables: Tables, group_by: GroupBy) -> str:
    if group_by == "account":
        # Rows by account: the deal's account, not its owner, gets the open deal.
        return (
            f"SELECT da.account_key, {_OPEN_COUNTS} FROM {tables.segments} s "
            f"{_ACCOUNT_JOIN.format(alias='s')} WHERE valid_from <= :t AND valid_to > :t "
            "AND known_from <= :k AND known_to > :k GROUP BY da.account_key"
        )
    return (
        f"SELECT owner_rep_id, {_OPEN_COUNTS} "
        f"FROM {tables.segments} WHERE valid_from <= :t AND valid_to > :t "
        "AND known_from <= :k AND known_to > :k GROUP BY owner_rep_id"
    )


class _Numbers:
    """Mutable accumulator of one key's numbers from the three queries."""

    def __init__(self) -> None:
        self.flow: Mapping[str, int] = {}
        self.value: dict[str, Decimal] = {}
        self.open = [0] * len(RULES.open_groups)

    def freeze(self) -> ScoreNumbers:
        flow = self.flow
        counts: dict[str, Any] = {name: flow.get(name, 0) for name in DEAL_KINDS.values()}
        counts |= {name: flow.get(name, 0) for name in SPLIT.values()}
        # Every counting event of the split kind has one of its values.
        counts[RULES.split_kind.number] = sum(counts[name] for name in SPLIT.values())
        counts |= {name: int(flow.get(name, 0)) for name in EVENT_NUMBERS}
        return ScoreNumbers(
            **counts,
            closed_value=dict(self.value),
            open=OpenNumbers(**dict(zip(RULES.open_numbers, self.open, strict=True))),
        )


@dataclass(frozen=True, slots=True)
class BoardParts:
    """What the three flow queries and the open query answer, before they are put together.

    The SQL below and the in-memory mirror (`service/store/mirror/read_mirror.py`) both produce
    these rows; `assemble` turns either into the same `Scoreboard`.
    """

    flow: Sequence[tuple[str | None, bool, Mapping[str, int]]]
    """(key, is_total, counts): `_flow_sql`'s rows."""
    repeats: Sequence[tuple[str | None, bool, str, int]]
    """(key, is_total, kind, distinct deals): `_repeats_sql`'s rows (is_total: over every
    key, each deal once)."""
    values: Sequence[tuple[bool, str | None, str, Decimal]]
    """(is_total, key, currency, value): `_value_sql`'s rows."""
    opens: Sequence[tuple[Any, ...]]
    """(owner_rep_id, then each open number in `RULES.open_groups` order): `_open_sql`'s rows
    (rows by account: the account key instead of the owner)."""
    account_names: Mapping[str, str] = field(default_factory=dict)
    """Rows by account: account key → its name at the period's end."""


async def scoreboard(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    tables: Tables = LIVE,
) -> Scoreboard:
    """The five numbers of [start, end) known at `known_at`, grouped by rep, team or all."""
    history: TeamHistory = {}
    if group_by == "team":
        history = await team_history_known_at(conn, known_at, tables)
    parts = await board_parts(
        conn,
        start=start,
        end=end,
        known_at=known_at,
        group_by=group_by,
        history=history,
        tables=tables,
    )
    return assemble(
        parts, start=start, end=end, known_at=known_at, group_by=group_by, history=history
    )


async def board_parts(
    conn: AsyncConnection,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    history: TeamHistory,
    tables: Tables = LIVE,
) -> BoardParts:
    """The rows of the four scoreboard queries, from SQL."""
    params: dict[str, Any] = {"start": start, "end": end, "k": known_at}
    account_params: dict[str, Any] = {}
    names: dict[str, str] = {}
    if group_by == "team":
        reps, teams, starts, ends = team_intervals(history)
        params |= {"t_rep": reps, "t_team": teams, "t_from": starts, "t_to": ends}
    if group_by == "account":
        accounts = await deal_accounts_known_at(conn, just_before(end), known_at, tables)
        account_params = {
            "a_deal": list(accounts),
            "a_key": [account.key for account in accounts.values()],
        }
        params |= account_params
        names = account_names(accounts.values())
    flow = [
        (row.key, bool(row.is_total), row._asdict())
        for row in await conn.execute(text(_flow_sql(tables, group_by)), params)
    ]
    repeats = [
        (row.key, bool(row.is_total), row.kind, row.overall if row.is_total else row.per_key)
        for row in await conn.execute(text(_repeats_sql(tables, group_by)), params)
    ]
    values = [
        (row.is_total, row.key, row.currency, row.value)
        for row in await conn.execute(text(_value_sql(tables, group_by)), params)
    ]
    opened = await conn.execute(
        text(_open_sql(tables, group_by)),
        {"t": just_before(end), "k": known_at} | account_params,
    )
    opens = [tuple(row) for row in opened]
    return BoardParts(flow, repeats, values, opens, names)


def assemble(
    parts: BoardParts,
    *,
    start: datetime,
    end: datetime,
    known_at: datetime,
    group_by: GroupBy,
    history: TeamHistory,
) -> Scoreboard:
    """The scoreboard from the rows of its queries (SQL or mirror alike)."""
    keys: dict[str | None, _Numbers] = {}
    totals = _Numbers()
    for key, is_total, counted in parts.flow:
        if is_total:
            totals.flow = {name: counted[f"total_{name}"] for name in DEAL_KINDS.values()}
            totals.flow |= {name: counted[name] for name in (*SPLIT.values(), *EVENT_NUMBERS)}
        else:
            keys.setdefault(key, _Numbers()).flow = counted
    _add_repeats(parts.repeats, keys, totals)
    for is_total, key, currency, value in parts.values:
        target = totals if is_total else keys.setdefault(key, _Numbers())
        target.value[currency] = value
    last_instant = just_before(end)
    for owner, *opened in parts.opens:
        key = _open_key(group_by, history, owner, last_instant)
        for target in (keys.setdefault(key, _Numbers()), totals):
            target.open = [a + b for a, b in zip(target.open, opened, strict=True)]
    names = parts.account_names
    rows = [
        ScoreRow(key, numbers.freeze(), account_name=names.get(key) if key is not None else None)
        for key, numbers in keys.items()
    ]
    rows = [row for row in rows if not row.numbers.is_zero()]
    rows.sort(key=lambda row: (row.key is None, row.key or ""))
    return Scoreboard(
        start=start,
        end=end,
        known_at=known_at,
        group_by=group_by,
        rows=tuple(rows),
        totals=totals.freeze(),
    )


def _open_key(
    group_by: GroupBy, history: TeamHistory, owner: str | None, instant: datetime
) -> str | None:
    if group_by == "all":
        return ALL_KEY
    if group_by == "team":
        return team_at(history, owner, instant)
    return owner  # by rep: the owner; by account: `_open_sql` grouped by the account already


async def funnel(
    conn: AsyncConnection,
    *,
    as_of: datetime,
    known_at: datetime,
    rep_id: str | None,
    tables: Tables = LIVE,
) -> dict[str, int]:
    """Deals per stage at (`as_of`, `known_at`); with `rep_id`, only those it owns then."""
    owner_filter = "AND owner_rep_id = :rep" if rep_id is not None else ""
    result = await conn.execute(
        text(
            f"SELECT stage, count(*) AS deals FROM {tables.segments} "
            "WHERE valid_from <= :t AND valid_to > :t AND known_from <= :k AND known_to > :k "
            f"AND stage IS NOT NULL {owner_filter} GROUP BY stage"
        ),
        {"t": as_of, "k": known_at, "rep": rep_id},
    )
    stages = dict.fromkeys(STAGES, 0)
    for row in result:
        stages[row.stage] = row.deals
    return stages
