"""What a use case refuses, in its own words; each adapter says it in its own way (HTTP: a
problem, the dashboard: its error page)."""

from __future__ import annotations


class UseCaseRefused(Exception):  # noqa: N818 - a refusal, not a bug
    """A request a use case cannot answer now or at all."""


class PositionBeyondHead(UseCaseRefused):
    """A read asked to wait for a log position that no event has yet."""

    def __init__(self, position: int) -> None:
        super().__init__(f"no event has position {position} yet")
        self.position = position


class ReadModelsLagging(UseCaseRefused):
    """The read models did not reach the position a read waits for within its wait."""

    def __init__(self, position: int) -> None:
        super().__init__(f"the read models have not reached position {position} yet")
        self.position = position


class ReplicaLagging(UseCaseRefused):
    """The read replica did not replay the log to the position a read waits for in time."""

    def __init__(self, position: int) -> None:
        super().__init__(f"the read replica has not replayed position {position} yet")
        self.position = position


class TooManyExports(UseCaseRefused):
    """As many exports as a process allows are running."""

    def __init__(self, limit: int, retry_after_seconds: int) -> None:
        super().__init__(f"{limit} exports are running")
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds
