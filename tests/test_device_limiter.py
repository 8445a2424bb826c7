"""The per-device connection cap when one piece of work takes several slots at once (issue 14:
identification asks a client-first port on a second connection beside the greeting wait)."""

from __future__ import annotations

import threading

from probe.session import DeviceLimiter


def _served_in_turn(limiter: DeviceLimiter, cancel: threading.Event, waiters: list[tuple[str, bool, int]],
                    held: list[bool]) -> list[str]:
    """Hold one slot per entry of `held` (True: a check's, behind discovery), queue the waiters
    (name, behind, priority) one after another, then free the held slots; the names in the order
    the waiters were served."""
    order: list[str] = []

    def wait_for_slot(name: str, behind: bool, priority: int) -> None:
        with limiter.priority(priority), limiter.slot(cancel, behind=behind):
            order.append(name)

    holders = [limiter.slot(cancel, behind=behind) for behind in held]
    for h in holders:
        h.__enter__()
    threads = []
    for waiter in waiters:
        t = threading.Thread(target=wait_for_slot, args=waiter)
        t.start()
        threads.append(t)
        for _ in range(500):  # until it is queued (bounded: 5 s at most)
            if len(limiter._queue) == len(threads):
                break
            threading.Event().wait(0.01)
    for h in holders:
        h.__exit__(None, None, None)
    for t in threads:
        t.join(10)
    return order


def test_several_slots_are_taken_together_and_the_cap_holds() -> None:
    limiter = DeviceLimiter(3)
    cancel = threading.Event()
    peak = {"now": 0, "max": 0}
    lock = threading.Lock()

    def work(n: int) -> None:
        for _ in range(20):
            with limiter.slot(cancel, n):
                with lock:
                    peak["now"] += n
                    peak["max"] = max(peak["max"], peak["now"])
                with lock:
                    peak["now"] -= n

    threads = [threading.Thread(target=work, args=(n,)) for n in (2, 2, 1, 1, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "two-slot takers and single ones deadlocked"
    assert peak["max"] <= 3


def test_a_free_slot_goes_to_the_longest_chain_first() -> None:
    """Credential trials mark each attempt with its account's remaining chain: the longest chain
    gets the next free slot, whoever asked first; equal priorities go in order of arrival."""
    limiter = DeviceLimiter(1)
    cancel = threading.Event()
    order = _served_in_turn(limiter, cancel, [("short-web", False, 0), ("chain-of-1", False, 1),
                                              ("chain-of-8", False, 8), ("later-web", False, 0)], held=[False])
    assert order == ["chain-of-8", "chain-of-1", "short-web", "later-web"]


def test_a_spare_slot_is_lent_only_when_free_and_nobody_waits() -> None:
    """DeviceLimiter.spare never waits and never goes ahead of a waiter: identification's empty
    line beside the greeting wait uses a slot only when the device has one to spare."""
    limiter = DeviceLimiter(2)
    cancel = threading.Event()
    with limiter.slot(cancel):
        with limiter.spare() as lent:
            assert lent
            with limiter.spare() as second:
                assert not second  # the cap (2) is reached: nothing lent, nothing waited for
        taken = threading.Event()
        release = threading.Event()

        def pair() -> None:
            with limiter.slot(cancel, 2):
                taken.set()
                release.wait(5)

        waiter = threading.Thread(target=pair)
        waiter.start()
        for _ in range(100):  # bounded: until the pair is queued behind our slot
            with limiter._cond:
                if limiter._queue:
                    break
            threading.Event().wait(0.01)
        with limiter.spare() as lent:
            assert not lent  # one slot is free, but a waiter is first in line for it
    assert taken.wait(5)  # our slot released: the waiter got both
    release.set()
    waiter.join(5)
    with limiter.spare() as lent:
        assert lent  # everything released: the lent slot came back too


def test_discovery_goes_before_checks_and_the_cap_holds_across_both() -> None:
    """While discovery still runs, checks already run beside it (the engine starts a service's
    checks once discovery is done with that service): discovery's waiters get a free slot before
    any check's, whatever the check's priority, and the cap counts both."""
    limiter = DeviceLimiter(2)
    cancel = threading.Event()
    order = _served_in_turn(limiter, cancel, [("check-chain-of-20", True, 20), ("identify", False, 0),
                                              ("check", True, 0), ("nmap", False, 0)], held=[False, True])
    assert order[:2] == ["identify", "nmap"] and order[2:] == ["check-chain-of-20", "check"]
    assert limiter.peak <= 2

    # and under contention, discovery's and checks' slots together never exceed the cap
    limiter = DeviceLimiter(3)
    now = {"n": 0, "max": 0}
    lock = threading.Lock()

    def work(n: int, behind: bool) -> None:
        for _ in range(20):
            with limiter.slot(cancel, n, behind=behind):
                with lock:
                    now["n"] += n
                    now["max"] = max(now["max"], now["n"])
                with lock:
                    now["n"] -= n

    workers = [threading.Thread(target=work, args=(n, b)) for n, b in ((2, False), (1, False), (1, True), (1, True))]
    for t in workers:
        t.start()
    for t in workers:
        t.join(30)
    assert not any(t.is_alive() for t in workers)
    assert now["max"] <= 3 and limiter.peak <= 3
