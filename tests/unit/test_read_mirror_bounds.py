"""The copy's distances: a request can take in any one projector round itself."""

from __future__ import annotations

from service.store.mirror.read_mirror import FOLLOW_BEYOND, RELOAD_BEYOND
from service.store.projection.projector import WINDOW


def test_a_request_brings_the_copy_past_a_whole_projector_round() -> None:
    # After a bulk load the projector's last round may hold a whole window; the first request
    # refreshes the copy over it instead of leaving every request to SQL until the follower has
    assert RELOAD_BEYOND > WINDOW
    # and the follower takes in smaller gaps than the requests may, so that it runs first
    assert FOLLOW_BEYOND < RELOAD_BEYOND
