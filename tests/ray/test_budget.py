"""The budget all embedding actors share: split between the actors heard from, halved on an overload any of them
sees (once per second), grown back by successes; each actor's window follows its share."""

from __future__ import annotations

import pytest
import ray

from aleph_embed_ray import SharedBudget, SharedWindow

pytestmark = pytest.mark.usefixtures("ray_local")


def test_the_budget_is_split_between_actors_halved_once_per_overload_burst_and_grown_back() -> None:
    budget = SharedBudget.remote(16)
    assert ray.get(budget.sync.remote("a", 0, 0)) == 16
    assert ray.get(budget.sync.remote("b", 0, 0)) == 8
    assert ray.get(budget.sync.remote("a", 0, 3)) == 4  # halved: 8 in all
    assert ray.get(budget.sync.remote("b", 0, 2)) == 4  # the same burst: not halved again
    shares = [ray.get(budget.sync.remote("a", 8, 0)) for _ in range(30)]  # +1 per window of successes
    assert shares[0] == 4 and shares == sorted(shares) and shares[-1] == 8  # back to 16 in all, never above
    assert ray.get(budget.state.remote()) == {"limit": 16, "size": 16.0, "lowest": 8, "members": 2}
    fixed = SharedBudget.remote(16, False)
    assert [ray.get(fixed.sync.remote(name, 0, 5)) for name in "ab"] == [16, 8]
    ray.kill(budget)
    ray.kill(fixed)


def test_an_actors_window_takes_its_share_and_reports_its_overloads() -> None:
    budget = SharedBudget.remote(8)
    ray.get(budget.sync.remote("other", 0, 0))
    window = SharedWindow(budget, "mine", 8)
    window.sync()
    assert (window.limit, window.size) == (4, 4.0)  # two actors: half of 8
    window.overloaded(window.start())  # halved at once, before the next sync
    window.finish(False)
    assert window.size == 2.0
    window.synced = 0.0
    window.sync()  # the overload reported: the budget halves to 4, a share of 2
    assert (window.limit, window.size, ray.get(budget.state.remote())["size"]) == (2, 2.0, 4.0)
    ray.kill(budget)
