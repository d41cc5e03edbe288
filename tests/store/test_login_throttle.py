"""Failed logins counted in the operational store: every server process of
``rmds serve --workers N`` throttles the same attempts (a login guard in each process's
memory let N processes take N times as many guesses). On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from fastapi import HTTPException

from rmds.api.security import LoginGuard
from rmds.store import open_store
from rmds.store.throttle import throttle_entries, throttle_failed
from tests.store.test_audit_chain import url  # noqa: F401  (the two stores)

SOURCE = "10.7.7.7"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _refused(guard: LoginGuard, store: object, account: str = "ana") -> str | None:
    """The Retry-After of a refused attempt, or None when it may go on."""
    try:
        guard.check(SOURCE, account, store)  # type: ignore[arg-type]
    except HTTPException as error:
        assert error.status_code == 429
        return (error.headers or {})["Retry-After"]
    return None


def test_failures_made_on_one_process_throttle_the_other(url: str) -> None:  # noqa: F811
    store = open_store(url)
    clock = Clock()
    one, other = LoginGuard(clock, shared=True), LoginGuard(clock, shared=True)
    for guard in (one, other, one):          # three wrong passwords, on either process
        assert _refused(guard, store) is None
        guard.fail(SOURCE, "ana", store)
    assert _refused(other, store) == "1"     # the fourth waits, on the other process too
    assert _refused(LoginGuard(clock), store) is None   # a guard in memory knew nothing
    clock.now += 1
    assert _refused(other, store) is None
    other.fail(SOURCE, "ana", store)
    assert _refused(one, store) == "2"       # the delays keep growing across processes
    one.succeed(SOURCE, "ana", store)        # success clears the pair and the account
    assert _refused(other, store) is None
    assert throttle_entries(store, [("par", f"{SOURCE}|ana"), ("conta", "ana"),
                                    ("origem", SOURCE)]) == {("origem", SOURCE): (4, clock.now)}
    store.close()


def test_concurrent_failures_are_all_counted_and_old_ones_forgotten(
        url: str) -> None:  # noqa: F811
    store = open_store(url)
    clock = Clock()
    errors: list[BaseException] = []

    def fail_ten() -> None:
        guard = LoginGuard(clock, shared=True)
        try:
            for _ in range(10):
                guard.fail(SOURCE, "bia", store)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=fail_ten) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert throttle_entries(store, [("conta", "bia")]) == {("conta", "bia"): (40, clock.now)}
    clock.now += 901                         # past the 15 minutes: counting starts again
    LoginGuard(clock, shared=True).fail(SOURCE, "bia", store)
    assert throttle_entries(store, [("conta", "bia")])[("conta", "bia")][0] == 1
    for n in range(8):                       # a flood of names keeps at most max_keys rows
        clock.now += 1
        throttle_failed(store, [("conta", f"nome{n}", 900.0)], clock.now, max_keys=5)
    kept = throttle_entries(store, [("conta", f"nome{n}") for n in range(8)])
    assert len(kept) <= 5 and ("conta", "nome7") in kept
    store.close()


@pytest.mark.parametrize("account", ["", "x" * 500])
def test_odd_account_names_are_throttled_like_any(url: str, account: str) -> None:  # noqa: F811
    store = open_store(url)
    guard = LoginGuard(Clock(), shared=True)
    for _ in range(3):
        guard.fail(SOURCE, account, store)
    assert _refused(guard, store, account) == "1"
    store.close()
