"""The scale benchmark's company: its years grow one log, in delivery order, without touching
the one-year history `bench/run.py` measures."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime

from bench.datagen import Company, Shape, company_years, history

SMALL = Company(deals_per_year=300, reps=20, teams=4)


def test_the_one_year_history_is_unchanged():
    # Given the history bench/run.py generates (its figures are compared across rounds)
    events = history(Shape(deals=500))
    # Then it is byte for byte the history generated before the company was added
    digest = hashlib.sha256(json.dumps(events).encode()).hexdigest()
    assert digest == "0746059c7bf3f9e6c0e8c78b36c1c0da4cb51d82ace1659b1b0164c6b6a8f878"


def test_a_shorter_log_is_a_prefix_of_a_longer_one():
    # Given the company's history over two years and over three
    two = [event for year in company_years(SMALL, 2) for _, event in year]
    three = [event for year in company_years(SMALL, 3) for _, event in year]
    # Then the two-year log is where the three-year log starts
    assert three[: len(two)] == two
    assert len(three) > len(two)


def test_each_year_is_delivered_in_order_after_the_events_happened():
    for number, year in enumerate(company_years(SMALL, 3)):
        begin, end = SMALL.year_start(number), SMALL.year_start(number + 1)
        deliveries = [when for when, _ in year]
        # Then deliveries fall in the year, in order, apart from the year's closing retractions
        ordinary = [when for when, event in year if event["type"] != "event.retracted"]
        assert ordinary == sorted(ordinary)
        assert all(when < end for when in deliveries)
        assert all(when >= begin for when in deliveries) or number == 0
        # And nothing is delivered before it happened
        for when, event in year:
            if event["type"] != "event.retracted":
                assert when >= datetime.fromisoformat(event["time"])


def test_keys_are_unique_and_retractions_name_earlier_visits():
    events = [event for year in company_years(SMALL, 3) for _, event in year]
    keys = Counter((event["source"], event["id"]) for event in events)
    assert max(keys.values()) == 1
    seen: dict[str, dict[str, object]] = {}
    retractions = 0
    for event in events:
        if event["type"] == "event.retracted":
            retractions += 1
            target = seen[event["data"]["event_id"]]
            assert target["type"] == "visit.completed"
            assert target["subject"] == event["subject"]
        seen[event["id"]] = event
    # About one event in 500 is retracted; every rep has a team
    assert len(events) // 600 <= retractions <= len(events) // 400
    assert sum(event["type"] == "rep.team_assigned" for event in events) == SMALL.reps
