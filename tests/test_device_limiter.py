"""The per-device connection cap when one piece of work takes several slots at once (issue 14:
identification asks a client-first port on a second connection beside the greeting wait)."""

from __future__ import annotations

import threading

from probe.session import DeviceLimiter


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
