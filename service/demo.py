"""A realistic demo quarter of a sales team, generated deterministically from a seed.

Pure: `generate` returns CloudEvents as JSON-ready dicts, in the order they are to be loaded.
Every id is fixed by (seed, quarter, position in the story) and the source is `demo`, so
loading the same demo twice stores nothing new. See `service.application.demo_load` for the
loading.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Final

from service.projections.periods import parse_period

SOURCE: Final = "demo"
TEAMS: Final = ("T-NORTH", "T-SOUTH")
CHANNELS: Final = ("web", "trade_show", "referral", "cold_call", "email", "linkedin", "event")
_CHANNEL_WEIGHTS: Final = (30, 12, 18, 10, 12, 10, 8)
_PREFIXES: Final = (
    "Formosa", "Jade Mountain", "Keelung", "Tainan", "Hsinchu", "Kaohsiung", "Taroko",
    "Sun Moon", "Yushan", "Pacific Rim", "Alishan", "Tamsui", "Penghu", "Lanyang", "Kinmen",
)  # fmt: skip
_SECTORS: Final = {
    "manufacturing": ("Precision", "Machinery", "Plastics"),
    "semiconductors": ("Semiconductor", "Microsystems", "Wafer Works"),
    "logistics": ("Logistics", "Freight", "Shipping"),
    "retail": ("Foods", "Retail", "Department Store"),
    "finance": ("Securities", "Leasing", "Insurance Brokers"),
    "healthcare": ("Medical", "Biotech", "Clinics"),
}
_SIZES: Final = ("smb", "mid-market", "enterprise")
_CARRIED_OVER: Final = 0.4
_EB_NAMES: Final = (
    "Chen Mei-ling", "Lin Chih-hao", "Wang Shu-fen", "Huang Chun-chieh", "Chang Ya-ting",
    "Liu Chien-hung", "Tsai Hsiu-ying", "Yang Kuan-yu", "Hsu Pei-shan", "Cheng Wen-chi",
)  # fmt: skip
_EB_TITLES: Final = ("CFO", "COO", "General Manager", "IT Director", "VP Operations")
_LOSS_REASONS: Final = ("price", "timing", "no budget", "chose a competitor", "went silent")
_COMPETITORS: Final = ("Acme CRM", "Beacon Systems", "Orchid Software")
_DISQUALIFY_REASONS: Final = ("no budget", "too small", "not the decision maker", "duplicate lead")
_CALL_OUTCOMES: Final = ("Connected", "Left voicemail", "No answer", "Connected", "Busy")
"""Outcomes as a phone system's call log writes them; `Connected` counts as connected."""


def quarter_bounds(quarter: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """[start, end) of a quarter such as 2026-Q1 in `zone`; ValueError if it is no quarter."""
    if "Q" not in quarter.upper():
        raise ValueError(f"{quarter!r} is not a quarter: expected YYYY-Qn")
    return parse_period(quarter, zone)


def last_ended_quarter(today: date) -> str:
    """The newest quarter that ended before `today`, such as 2026-Q3."""
    quarter = (today.month - 1) // 3
    return f"{today.year - 1}-Q4" if quarter == 0 else f"{today.year}-Q{quarter}"


def rep_ids(count: int) -> list[str]:
    """The demo reps: R-01, R-02, …"""
    return [f"R-{n:02d}" for n in range(1, count + 1)]


@dataclass(slots=True)
class _Story:
    """One deal's events while it is being told; it stops at the end of the quarter."""

    rng: random.Random
    deal_id: str
    owner: str
    clock: datetime
    end: datetime
    zone: tzinfo
    events: list[dict[str, Any]] = field(default_factory=list)
    amount: int = 0

    def later(self, low: int, high: int) -> bool:
        """Move the clock on by `low`..`high` days into office hours; False past the quarter."""
        day = self.clock.astimezone(self.zone).date() + timedelta(days=self.rng.randint(low, high))
        self.clock = office_time(day, self.rng, self.zone)
        return self.clock < self.end

    def emit(self, event_type: str, **data: Any) -> dict[str, Any]:
        """Record an event of the deal at the current clock, by the deal's owner."""
        event = {"type": event_type, "time": self.clock, "data": {"rep_id": self.owner, **data}}
        self.events.append(event)
        return event


def office_time(day: date, rng: random.Random, zone: tzinfo) -> datetime:
    """A moment of office hours (weekdays 09:00-17:45) on `day` or the next weekday."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    moment = time(rng.randint(9, 17), rng.choice((0, 15, 30, 45)))
    return datetime.combine(day, moment, tzinfo=zone)


def _money(amount: int) -> str:
    return f"{amount}.00"


def _account(rng: random.Random) -> dict[str, Any]:
    """One of the demo's accounts (a prefix and a sector: about 90), with its CRM id.

    The same draws as ever, so the rest of the demo stays as it was; several deals share an
    account, as in a real book of business.
    """
    sectors = sorted(_SECTORS)
    industry = rng.choice(sectors)
    prefix = rng.choice(_PREFIXES)
    rng.choice(_SECTORS[industry])  # the word once drawn per deal: the draws stay the same
    name = f"{prefix} {_SECTORS[industry][0]}"
    account_id = f"ACC-{_PREFIXES.index(prefix) + 1:02d}{sectors.index(industry) + 1}"
    return {"name": name, "id": account_id, "industry": industry, "size": rng.choice(_SIZES)}


def _nine_on_a_weekday(day: date, zone: tzinfo) -> datetime:
    """09:00 on `day`, or on the next weekday (no random draw: the demo's others stay)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(9), tzinfo=zone)


_KEY_ACCOUNTS: Final = 5
"""How many of the accounts with most deals the demo marks as key accounts."""


def _key_account_events(
    stories: list[_Story], tag: str, bounds: tuple[datetime, datetime], zone: tzinfo
) -> list[dict[str, Any]]:
    """The accounts with most deals marked key before the quarter; the last unmarked mid-way."""
    deals: dict[str, int] = {}
    names: dict[str, str] = {}
    for story in stories:
        account = story.events[0]["data"]["account"]
        deals[account["id"]] = deals.get(account["id"], 0) + 1
        names[account["id"]] = account["name"]
    chosen = sorted(deals, key=lambda key: (-deals[key], key))[:_KEY_ACCOUNTS]
    start, end = (instant.astimezone(zone) for instant in bounds)
    before = _nine_on_a_weekday((start - timedelta(days=30)).date(), zone)
    events = [
        _envelope(
            f"key-{tag}-{key}",
            f"account:{key}",
            _fact("account.key_set", before, {"account": key, "key": True, "note": names[key]}),
        )
        for key in chosen
    ]
    if chosen:
        dropped = chosen[-1]
        midway = _nine_on_a_weekday((start + (end - start) / 2).date(), zone)
        note = "moved to the partner channel"
        events.append(
            _envelope(
                f"key-{tag}-{dropped}-dropped",
                f"account:{dropped}",
                _fact("account.key_set", midway, {"account": dropped, "key": False, "note": note}),
            )
        )
    return events


def _lead_phase(story: _Story) -> bool:
    """Sourcing, first contact, calls and the first visit; False when the deal goes no further."""
    rng = story.rng
    channel = rng.choices(CHANNELS, weights=_CHANNEL_WEIGHTS)[0]
    story.emit("lead.sourced", account=_account(rng), channel=channel)
    if not story.later(1, 4):
        return False
    story.emit("lead.contacted", method=rng.choice(("call", "email", "intro")))
    for _ in range(rng.randint(0, 2)):
        if not story.later(1, 5):
            return False
        story.emit(
            "call.logged",
            direction=rng.choice(("outbound", "outbound", "inbound")),
            duration_s=rng.randint(60, 1800),
            outcome=rng.choice(_CALL_OUTCOMES),
        )
    if rng.random() < 0.12:
        return story.later(2, 10) and _disqualify(story)
    if rng.random() < 0.8:
        if not story.later(3, 12):
            return False
        story.emit("visit.completed", kind="FSI")
    return rng.random() > 0.3


def _disqualify(story: _Story) -> bool:
    story.emit("deal.disqualified", reason=story.rng.choice(_DISQUALIFY_REASONS))
    return False


def _lose(story: _Story) -> bool:
    rng = story.rng
    if rng.random() < 0.5:
        story.emit(
            "deal.lost", reason=rng.choice(_LOSS_REASONS), competitor=rng.choice(_COMPETITORS)
        )
    else:
        story.emit("deal.lost", reason=rng.choice(_LOSS_REASONS))
    return False


def _opportunity_phase(story: _Story, reps: list[str]) -> bool:
    """Qualification, a possible hand-over and follow-up visits; False when the deal stops."""
    rng = story.rng
    if rng.random() < 0.08:
        return story.later(3, 10) and _disqualify(story)
    if not story.later(4, 14):
        return False
    story.amount = rng.randrange(150, 6000) * 1000
    expected = (story.clock + timedelta(days=rng.randint(30, 120))).date().isoformat()
    story.emit(
        "deal.qualified", amount=_money(story.amount), currency="TWD", expected_close=expected
    )
    if rng.random() < 0.06 and story.later(1, 7):
        new_owner = rng.choice([rep for rep in reps if rep != story.owner])
        story.emit("deal.reassigned", to_rep_id=new_owner)
        story.owner = new_owner
    for _ in range(rng.randint(1, 3)):
        if not story.later(5, 15):
            return False
        story.emit("visit.completed", kind="FUA")
    if rng.random() < 0.15:
        return story.later(2, 10) and _lose(story)
    return rng.random() > 0.25


def _eb(rng: random.Random) -> dict[str, str]:
    return {"name": rng.choice(_EB_NAMES), "title": rng.choice(_EB_TITLES)}


def _commitment_phase(story: _Story) -> bool:
    """The economic buyer commits (and sometimes leaves); the amount may be revised."""
    rng = story.rng
    if not story.later(3, 12):
        return False
    story.emit("deal.eb_committed", eb=_eb(rng))
    if rng.random() < 0.12:
        if not story.later(3, 15):
            return False
        story.emit("deal.eb_departed")
        if rng.random() < 0.5 or not story.later(5, 15):
            return False
        story.emit("deal.eb_committed", eb=_eb(rng))
    if rng.random() < 0.2 and story.later(2, 8):
        story.amount = story.amount * rng.randint(80, 115) // 100 // 1000 * 1000
        story.emit("deal.amount_revised", amount=_money(story.amount), currency="TWD")
    if rng.random() < 0.18:
        return story.later(2, 10) and _lose(story)
    return rng.random() > 0.15


def _closing_phase(story: _Story) -> None:
    """The committee approves, then the contract is signed (or the deal is lost)."""
    rng = story.rng
    if not story.later(5, 15):
        return
    story.emit("deal.committee_approved")
    if rng.random() < 0.1:
        if story.later(2, 10):
            _lose(story)
        return
    if rng.random() < 0.2 or not story.later(3, 14):
        return
    signed = story.amount * rng.randint(90, 105) // 100 // 1000 * 1000
    story.emit(
        "deal.contract_signed",
        amount=_money(signed),
        currency="TWD",
        contract_id=f"C-{story.deal_id}",
    )


def _tell(story: _Story, reps: list[str]) -> None:
    if _lead_phase(story) and _opportunity_phase(story, reps) and _commitment_phase(story):
        _closing_phase(story)


def _deal_stories(
    rng: random.Random,
    tag: str,
    reps: list[str],
    deals: int,
    bounds: tuple[datetime, datetime],
    zone: tzinfo,
) -> list[_Story]:
    start, end = bounds
    first_day, last_day = (
        start.astimezone(zone).date(),
        (end - timedelta(days=5)).astimezone(zone).date(),
    )
    stories = []
    for number in range(1, deals + 1):
        # About a third of the deals were sourced before the quarter: its open pipeline.
        if rng.random() < _CARRIED_OVER:
            day = first_day - timedelta(days=rng.randint(1, 120))
        else:
            day = first_day + timedelta(days=rng.randrange((last_day - first_day).days))
        story = _Story(
            rng=rng,
            deal_id=f"D{tag}-{number:03d}",
            owner=rng.choice(reps),
            clock=office_time(day, rng, zone),
            end=end,
            zone=zone,
        )
        _tell(story, reps)
        stories.append(story)
    return stories


def _envelope(event_id: str, subject: str, event: dict[str, Any]) -> dict[str, Any]:
    moment: datetime = event["time"]
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": event["type"],
        "subject": subject,
        "time": moment.isoformat(timespec="seconds"),
        "datacontenttype": "application/json",
        "data": event["data"],
    }


def _team_events(
    rng: random.Random, tag: str, reps: list[str], bounds: tuple[datetime, datetime], zone: tzinfo
) -> list[dict[str, Any]]:
    """Half the reps in each team before the quarter; one rep moves team mid-quarter."""
    start, end = (instant.astimezone(zone) for instant in bounds)
    before = office_time((start - timedelta(days=150)).date(), rng, zone)
    events = [
        _envelope(
            f"team-{tag}-{rep}",
            f"rep:{rep}",
            {
                "type": "rep.team_assigned",
                "time": before,
                "data": {"team_id": TEAMS[i * 2 // len(reps)]},
            },
        )
        for i, rep in enumerate(reps)
    ]
    mover = reps[0]
    moved = office_time((start + (end - start) / 2).date(), rng, zone)
    events.append(
        _envelope(
            f"team-{tag}-{mover}-move",
            f"rep:{mover}",
            {"type": "rep.team_assigned", "time": moved, "data": {"team_id": TEAMS[1]}},
        )
    )
    return events


_NAMES: Final = (
    "王小明",
    "Amy Lin",
    "陳怡君",
    "Jason Wu",
    "林志豪",
    "Grace Huang",
    "張雅婷",
    "Kevin Tsai",
    "李建宏",
    "Vivian Chou",
)


def _profile_events(
    rng: random.Random, tag: str, reps: list[str], bounds: tuple[datetime, datetime], zone: tzinfo
) -> list[dict[str, Any]]:
    """A name for every rep before the quarter; the last rep leaves a week before its end."""
    start, end = (instant.astimezone(zone) for instant in bounds)
    before = office_time((start - timedelta(days=150)).date(), rng, zone)
    events = []
    for i, rep in enumerate(reps):
        name = _NAMES[i % len(_NAMES)] + ("" if i < len(_NAMES) else f" {i // len(_NAMES) + 1}")
        data = {"name": name, "email": f"{rep.lower()}@example.com"}
        events.append(
            _envelope(
                f"profile-{tag}-{rep}",
                f"rep:{rep}",
                {"type": "rep.profile_set", "time": before, "data": data},
            )
        )
    leaver = reps[-1]
    left = office_time((end - timedelta(days=7)).date(), rng, zone)
    name = events[-1]["data"]["name"]
    events.append(
        _envelope(
            f"profile-{tag}-{leaver}-left",
            f"rep:{leaver}",
            {"type": "rep.profile_set", "time": left, "data": {"name": name, "active": False}},
        )
    )
    return events


_REP_TARGETS: Final = {
    "closed_deals": 3,
    "committed_deals": 4,
    "opportunities": 12,
    "leads": 22,
    "client_visits": 36,
}
_PRIORITIES: Final = {
    # Narrow customer base watches committed deals and visits; broad: it sells by phone, and
    # watches calls, leads and opportunities (its dashboard shows the calls).
    TEAMS[0]: ["committed_deals", "client_visits"],
    TEAMS[1]: ["calls", "leads", "opportunities"],
}
_PHONE_CALLS: Final = 30
"""The quarterly target of outbound calls of each rep of a team whose priorities name calls."""


def _plan_events(
    rng: random.Random, tag: str, reps: list[str], bounds: tuple[datetime, datetime], zone: tzinfo
) -> list[dict[str, Any]]:
    """Quarterly targets per rep and per team and the teams' priorities, set before the quarter."""
    when = office_time((bounds[0] - timedelta(days=10)).astimezone(zone).date(), rng, zone)
    events = []
    team_totals: dict[str, dict[str, int]] = {
        team: dict.fromkeys(_REP_TARGETS, 0) for team in TEAMS
    }
    for i, rep in enumerate(reps):
        team = TEAMS[i * 2 // len(reps)]
        for metric, base in _REP_TARGETS.items():
            value = max(1, round(base * rng.uniform(0.8, 1.25)))
            team_totals[team][metric] += value
            data = {"metric": metric, "period": "quarter", "value": str(value)}
            events.append(
                _envelope(
                    f"target-{tag}-{rep}-{metric}", f"rep:{rep}", _fact("target.set", when, data)
                )
            )
    for i, rep in enumerate(reps):
        team = TEAMS[i * 2 // len(reps)]
        if "calls" in _PRIORITIES[team]:
            team_totals[team]["calls"] = team_totals[team].get("calls", 0) + _PHONE_CALLS
            data = {"metric": "calls", "period": "quarter", "value": str(_PHONE_CALLS)}
            events.append(
                _envelope(
                    f"target-{tag}-{rep}-calls", f"rep:{rep}", _fact("target.set", when, data)
                )
            )
    for team, targets in team_totals.items():
        for metric, value in targets.items():
            data = {"metric": metric, "period": "quarter", "value": str(value)}
            events.append(
                _envelope(
                    f"target-{tag}-{team}-{metric}", f"team:{team}", _fact("target.set", when, data)
                )
            )
        priorities = {"metrics": _PRIORITIES[team]}
        events.append(
            _envelope(
                f"priorities-{tag}-{team}",
                f"team:{team}",
                _fact("team.priorities_set", when, priorities),
            )
        )
    return events


def calendar_days(bounds: tuple[datetime, datetime], zone: tzinfo) -> tuple[date, date]:
    """The demo quarter's holiday and make-up working day: the first Friday from the 8th of its
    second month off, and the Saturday after the next worked in its place (as 補班 in Taiwan)."""
    first = bounds[0].astimezone(zone).date()
    month = first.month + 1
    eighth = date(first.year, month, 8)
    holiday = eighth + timedelta(days=(4 - eighth.weekday()) % 7)
    return holiday, holiday + timedelta(days=8)


def _calendar_events(
    tag: str, bounds: tuple[datetime, datetime], zone: tzinfo
) -> list[dict[str, Any]]:
    """A holiday and a make-up working Saturday of the company calendar, set before the quarter."""
    when = datetime.combine(
        (bounds[0] - timedelta(days=14)).astimezone(zone).date(), time(9), tzinfo=zone
    )
    holiday, make_up = calendar_days(bounds, zone)
    days = ((holiday, False, "Company holiday"), (make_up, True, "Make-up working day"))
    return [
        _envelope(
            f"calendar-{tag}-{day.isoformat()}",
            "calendar:company",
            _fact(
                "calendar.day_set",
                when,
                {"date": day.isoformat(), "working": working, "name": name},
            ),
        )
        for day, working, name in days
    ]


def _fact(event_type: str, when: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "time": when, "data": data}


def _retraction(rng: random.Random, stories: list[_Story]) -> list[dict[str, Any]]:
    """A visit entered twice by mistake, and the retraction of the copy."""
    candidates = [s for s in stories if any(e["type"] == "visit.completed" for e in s.events)]
    if not candidates:
        return []
    story = rng.choice(candidates)
    visit = next(e for e in story.events if e["type"] == "visit.completed")
    copy_id = f"{story.deal_id}-dup"
    copy = _envelope(copy_id, story.deal_id, visit)
    retracted_at = {
        "type": "event.retracted",
        "time": min(visit["time"] + timedelta(days=1), story.end - timedelta(minutes=1)),
        "data": {
            "rep_id": visit["data"]["rep_id"],
            "event_source": SOURCE,
            "event_id": copy_id,
            "reason": "visit logged twice by mistake",
        },
    }
    return [copy, _envelope(f"{story.deal_id}-retraction", story.deal_id, retracted_at)]


def generate(
    *, seed: int = 7, reps: int = 8, quarter: str = "2026-Q1", zone: tzinfo = UTC, deals: int = 300
) -> list[dict[str, Any]]:
    """The demo quarter as CloudEvents JSON, in load order: teams, targets, the calendar's
    holiday and make-up day, deals, late events."""
    if not 2 <= reps <= 99:
        raise ValueError("a demo team has 2 to 99 reps")
    if not 1 <= deals <= 999:
        raise ValueError("a demo quarter has 1 to 999 deals")
    start, end = quarter_bounds(quarter, zone)
    rng = random.Random(f"{seed}/{quarter}/{reps}/{deals}")  # noqa: S311 - demo data, no secret
    tag = f"{quarter.replace('-', '').upper()}S{seed}"
    # Its own generator, so that the names leave every other demo event as it was.
    names = random.Random(f"{seed}/{quarter}/names")  # noqa: S311 - demo data, no secret
    team = rep_ids(reps)
    stories = _deal_stories(rng, tag, team, deals, (start, end), zone)
    deal_events = [
        (event["time"], _envelope(f"{story.deal_id}-{n:02d}", story.deal_id, event))
        for story in stories
        for n, event in enumerate(story.events, start=1)
    ]
    deal_events.sort(key=lambda pair: pair[0])
    ordered = [envelope for _, envelope in deal_events]
    # A few events reach the service late: loaded after everything that happened after them.
    late = set(rng.sample(range(len(ordered) // 2), k=min(6, len(ordered) // 2)))
    on_time = [e for i, e in enumerate(ordered) if i not in late]
    arrived_late = [e for i, e in enumerate(ordered) if i in late]
    return [
        *_team_events(rng, tag, team, (start, end), zone),
        *_profile_events(names, tag, team, (start, end), zone),
        *_plan_events(rng, tag, team, (start, end), zone),
        *_key_account_events(stories, tag, (start, end), zone),
        *_calendar_events(tag, (start, end), zone),
        *on_time,
        *arrived_late,
        *_retraction(rng, stories),
    ]
