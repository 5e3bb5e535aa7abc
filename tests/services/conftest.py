"""The fake platform context of the service tests that run without a database (``tests/fakes``)."""

from __future__ import annotations

import pytest

from fastreg.domain.clock import FixedClock
from tests.fakes import FakeContext

from . import seed


@pytest.fixture
def fake_clock() -> FixedClock:
    return FixedClock(seed.T0)


@pytest.fixture
def ctx(fake_clock: FixedClock) -> FakeContext:
    return FakeContext(clock=fake_clock)
