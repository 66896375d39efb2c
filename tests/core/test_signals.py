from __future__ import annotations

import logging

import pytest

from fastmango.core.signals import Signal


def test_receivers_get_each_event_once_and_a_failing_one_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    signal: Signal[int] = Signal("numbers")
    got: list[int] = []

    def broken(value: int) -> None:
        raise RuntimeError("receiver bug")

    signal.connect(broken)
    disconnect = signal.connect(got.append)
    signal.connect(got.append)  # connected once
    with caplog.at_level(logging.ERROR, logger="fastmango.signals"):
        signal.send(1)
    disconnect()
    signal.send(2)
    assert got == [1]
    assert "a receiver of the numbers signal failed" in caplog.text
