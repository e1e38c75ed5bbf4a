"""Profiles on a board: the name at the period's end; idle inactive reps left out."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from service.projections import compute_scoreboard
from service.projections.profiles import (
    RepProfile,
    profile_at,
    with_profiles,
    without_idle_inactive,
)
from service.projections.scoreboard import ScoreRow

START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
AMY = RepProfile("Amy", None, True)
GONE = RepProfile("Bo", None, False)


def test_a_profile_holds_from_its_time_and_the_end_is_excluded() -> None:
    history = {"R-1": [(START, AMY), (END, GONE)]}
    assert profile_at(history, "R-1", START) == AMY
    assert profile_at(history, "R-1", END) == GONE
    assert profile_at(history, "R-1", datetime(2025, 12, 31, tzinfo=UTC)) is None
    board = compute_scoreboard([], start=START, end=END, known_at=None, group_by="rep")
    row = ScoreRow("R-1", board.totals)
    named = with_profiles(dataclasses.replace(board, rows=(row,)), history)
    assert named.rows[0].profile == AMY


def test_an_inactive_rep_without_numbers_is_left_out() -> None:
    board = compute_scoreboard([], start=START, end=END, known_at=None, group_by="rep")
    rows = (
        ScoreRow("R-1", board.totals, AMY),
        ScoreRow("R-2", board.totals, GONE),
        ScoreRow("R-3", board.totals, None),
    )
    shown = without_idle_inactive(dataclasses.replace(board, rows=rows))
    assert [row.key for row in shown.rows] == ["R-1", "R-3"]
