"""The histogram behind metrics and history: quantiles within a bucket, exact merges."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from zerogate.domain.digest import BOUNDS, PROMETHEUS_INDEXES, Digest, exact_quantile

values = st.lists(st.floats(min_value=1e-6, max_value=5000, allow_nan=False), max_size=300)


def digest_of(xs: list[float]) -> Digest:
    d = Digest()
    d.add_sorted(sorted(xs))
    return d


@given(values)
def test_bucket_counts_match_a_count_by_hand(xs: list[float]) -> None:
    d = digest_of(xs)
    assert d.count == len(xs) == sum(d.buckets.values())
    for index, n in d.buckets.items():
        low = BOUNDS[index - 1] if index > 0 else 0.0
        high = BOUNDS[index] if index < len(BOUNDS) else float("inf")
        assert n == sum(1 for x in xs if low < x <= high or (index == 0 and x <= high))


@given(values, values)
def test_merging_equals_adding_everything(a: list[float], b: list[float]) -> None:
    merged = digest_of(a)
    merged.merge(digest_of(b))
    whole = digest_of(a + b)
    assert merged.buckets == whole.buckets and merged.count == whole.count
    assert merged.max == whole.max


def test_quantiles_fall_within_a_bucket_of_the_truth() -> None:
    rng = random.Random(4)
    xs = sorted(rng.lognormvariate(-3, 1.5) for _ in range(20_000))
    d = digest_of(xs)
    for q in (0.5, 0.9, 0.95, 0.99):
        true = exact_quantile(xs, q)
        got = d.quantile(q)
        assert true is not None and got is not None
        assert abs(got - true) / true < 0.26, (q, got, true)


def test_json_round_trip_and_empty_digest() -> None:
    d = digest_of([0.001, 0.002, 5.0])
    back = Digest.from_json(d.to_json())
    assert back == d
    assert Digest().quantile(0.5) is None and Digest().mean is None


def test_prometheus_buckets_are_cumulative_and_monotonic() -> None:
    d = digest_of([0.0005, 0.002, 0.002, 0.05, 2.0, 10_000.0])
    cum = d.cumulative()
    assert [b for b, _ in cum] == [BOUNDS[i] for i in PROMETHEUS_INDEXES]
    counts = [n for _, n in cum]
    assert counts == sorted(counts)
    assert dict(cum)[BOUNDS[20]] == 1  # only 0.5 ms is at or below 1 ms
    assert counts[-1] == 5  # 10,000 s is above the last bound: only +Inf holds it
