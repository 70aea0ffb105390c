"""Room held by endpoints' replicas, which the warm worker pool must not hand out."""

from __future__ import annotations

from rhcli.server.reservations import Reservations


def test_the_pool_sees_the_total_minus_what_endpoints_hold() -> None:
    held = Reservations()
    total = {"CPU": 4.0, "GPU": 1.0}
    assert held.left_of(total) == total
    held.set("a", {"CPU": 1.5})
    held.set("b", {"CPU": 1.0, "GPU": 1.0})
    assert held.left_of(total) == {"CPU": 1.5, "GPU": 0.0}
    assert held.total_of("a") == {"CPU": 1.5}


def test_setting_says_whether_the_reservation_grew_and_none_releases_it() -> None:
    held = Reservations()
    assert held.set("a", {"CPU": 1.0}) is True
    assert held.set("a", {"CPU": 1.0}) is False
    assert held.set("a", {"CPU": 0.5}) is False  # shrank: no worker has to go
    assert held.set("a", {"CPU": 0.5, "GPU": 1.0}) is True
    assert held.set("a", None) is False
    assert held.total() == {}


def test_what_is_left_never_goes_below_zero() -> None:
    held = Reservations()
    held.set("a", {"CPU": 8.0})
    assert held.left_of({"CPU": 2.0}) == {"CPU": 0.0}
