"""A sampler that replays snapshots written by a test, on the test's clock."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from zerogate.domain.resources import ResourceSnapshot


class ScriptedSampler:
    """Returns the scripted snapshots in order, repeating the last one when they run out.

    Give a callable instead of a list to compute each snapshot from ``monotonic()``,
    for example a ramp driven by a FakeClock.
    """

    def __init__(
        self,
        script: Sequence[ResourceSnapshot] | Callable[[float], ResourceSnapshot],
        *,
        monotonic: Callable[[], float] = lambda: 0.0,
    ) -> None:
        if not callable(script) and not script:
            raise ValueError("a scripted sampler needs at least one snapshot")
        self._script = script
        self._monotonic = monotonic
        self.calls = 0

    def sample(self) -> ResourceSnapshot:
        self.calls += 1
        if callable(self._script):
            return self._script(self._monotonic())
        return self._script[min(self.calls, len(self._script)) - 1]

    async def sample_async(self) -> ResourceSnapshot:
        return self.sample()
