"""Which files a gap (a recorder died, a successor went on) is shown before, in `extent`."""

from __future__ import annotations

from types import SimpleNamespace

from cloudrec.tasks.listing import gaps_before


def f(index: int, user: str | None = None, media_type: int = 2) -> SimpleNamespace:
    return SimpleNamespace(index=index, user_id=user, media_type=media_type, media_id="0" if user else None)


def test_a_composite_gap_is_before_its_one_file() -> None:
    gap = {"index": 3, "duration": 1.0}
    assert gaps_before([f(1), f(2), f(3), f(4)], [gap]) == {3: [gap]}


def test_a_per_stream_gap_is_before_the_next_file_of_each_stream_recorded_before_it() -> None:
    gap = {"index": 4, "duration": 1.0}
    files = [f(1, "a"), f(2, "c", 0), f(3, "a"), f(5, "c", 0), f(4, "a"), f(6, "a"), f(7, "new")]
    # a's next file is 4, c's is 5; a's 6 follows 4, "new" was not recorded before the gap
    assert gaps_before(files, [gap]) == {4: [gap], 5: [gap]}
    assert gaps_before(files, None) == {}
