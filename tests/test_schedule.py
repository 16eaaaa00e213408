"""Preemption schedules: seeded and reproducible; traces read with located errors."""

from __future__ import annotations

import pytest

from spotray import InputError
from spotray._local._schedule import Preemption, poisson, read_trace

GROUPS = {"small-group": 3, "medium-group": 2}


def test_same_seed_same_schedule():
    assert poisson(GROUPS, 30, 600, seed=7) == poisson(GROUPS, 30, 600, seed=7)
    assert poisson(GROUPS, 30, 600, seed=7) != poisson(GROUPS, 30, 600, seed=8)


def test_poisson_rate_per_node():
    events = poisson({"g": 10}, 50, 10_000, seed=1)
    # 10 node slots x 10,000 s / 50 s mean = 2,000 expected events
    assert 1800 < len(events) < 2200
    assert all(0 <= e.slot < 10 and e.group == "g" for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_trace_with_counts_and_shares():
    text = "time,group,count\n5,small-group,2\n# a comment\n12.5,medium-group,50%\n"
    assert read_trace(text, "t.csv", set(GROUPS)) == [
        Preemption(5.0, "small-group", 2),
        Preemption(12.5, "medium-group", 0, 0.5),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("x,small-group,1", "t.csv:2: time: 'x' is not a number"),
        ("3,tiny-group,1", "t.csv:2: group: 'tiny-group' is not a Spot group"),
        ("3,small-group,0", "t.csv:2: count: '0' is not a positive whole number"),
        ("3,small-group,150%", "t.csv:2: count: '150%' is not a share"),
        ("3,small-group", "t.csv:2: expected 3 columns"),
    ],
)
def test_bad_trace_rows_are_located(row, message):
    with pytest.raises(InputError, match=message):
        read_trace(f"time,group,count\n{row}\n", "t.csv", set(GROUPS))
