"""Behaviour every counter store must share, run on memory and on a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from agentic_platform.limits import Charge, CounterStore

StoreFactory = Callable[[], CounterStore]


def rpm(amount: float = 1, limit: float = 50, ttl: float = 60, name: str = "rpm:k1:1") -> Charge:
    return Charge(counter=name, amount=amount, limit=limit, ttl_seconds=ttl)


async def test_concurrent_acquires_admit_exactly_the_limit(new_store: StoreFactory) -> None:
    replicas = [new_store() for _ in range(4)]
    charge = rpm(limit=50)

    admissions = await asyncio.gather(
        *(replicas[i % len(replicas)].acquire([charge]) for i in range(200))
    )

    assert sum(admission.admitted for admission in admissions) == 50
    assert await replicas[0].values([charge.counter]) == (50.0,)
    admitted_values = sorted(a.values[0] for a in admissions if a.admitted)
    assert admitted_values == [float(n) for n in range(1, 51)]


async def test_concurrent_multi_counter_acquires_never_half_apply(
    new_store: StoreFactory,
) -> None:
    replicas = [new_store() for _ in range(4)]
    charges = [rpm(limit=50), Charge("tpm:k1:1", amount=7, limit=300, ttl_seconds=60)]

    admissions = await asyncio.gather(
        *(replicas[i % len(replicas)].acquire(charges) for i in range(200))
    )

    assert sum(admission.admitted for admission in admissions) == 42  # 42 * 7 = 294 <= 300
    assert await replicas[0].values(["rpm:k1:1", "tpm:k1:1"]) == (42.0, 294.0)
    assert {a.refused_index for a in admissions if not a.admitted} == {1}


async def test_one_full_counter_refuses_and_adds_nothing_to_the_others(
    new_store: StoreFactory,
) -> None:
    store = new_store()
    await store.acquire([Charge("usd:team:1", amount=5, limit=5, ttl_seconds=60)])
    charges = [
        rpm(name="rpm:key:1", limit=10),
        Charge("tpm:key:1", amount=100, limit=1000, ttl_seconds=60),
        Charge("usd:team:1", amount=0.01, limit=5, ttl_seconds=60),
    ]

    admission = await store.acquire(charges)

    assert not admission.admitted
    assert admission.refused_index == 2
    assert admission.values == (0.0, 0.0, 5.0)
    assert await store.values(["rpm:key:1", "tpm:key:1", "usd:team:1"]) == (0.0, 0.0, 5.0)


async def test_admission_reports_each_value_after_the_call(new_store: StoreFactory) -> None:
    store = new_store()
    charges = [rpm(limit=10), Charge("tpm:k1:1", amount=250, limit=1000, ttl_seconds=60)]

    await store.acquire(charges)
    admission = await store.acquire(charges)

    assert admission.admitted
    assert admission.values == (2.0, 500.0)
    assert admission.refused_index is None
    assert admission.retry_after is None


async def test_a_charge_that_exactly_fills_the_limit_is_admitted(new_store: StoreFactory) -> None:
    store = new_store()
    dollars = [Charge("usd:k1:day", amount=0.1, limit=0.3, ttl_seconds=60)]

    results = [(await store.acquire(dollars)).admitted for _ in range(4)]

    assert results == [True, True, True, False]  # 0.1 + 0.1 + 0.1 fits in 0.3


async def test_empty_and_unknown_counters(new_store: StoreFactory) -> None:
    store = new_store()

    assert (await store.acquire([])).admitted
    assert await store.values(["never:written"]) == (0.0,)
    assert await store.values([]) == ()


async def test_a_counter_named_twice_is_rejected(new_store: StoreFactory) -> None:
    store = new_store()
    with pytest.raises(ValueError, match="appears twice"):
        await store.acquire([rpm(), rpm()])


async def test_counter_resets_when_its_window_ends(new_store: StoreFactory) -> None:
    store = new_store()
    charge = rpm(limit=1, ttl=0.3)

    assert (await store.acquire([charge])).admitted
    refused = await store.acquire([charge])
    assert not refused.admitted
    assert refused.retry_after is not None
    assert 0.1 < refused.retry_after <= 0.3

    await asyncio.sleep(refused.retry_after + 0.05)

    assert await store.values([charge.counter]) == (0.0,)
    assert (await store.acquire([charge])).admitted


async def test_writes_never_extend_a_counters_ttl(new_store: StoreFactory) -> None:
    store = new_store()
    assert (await store.acquire([rpm(limit=3, ttl=0.4)])).admitted
    await asyncio.sleep(0.2)

    assert (await store.acquire([rpm(limit=3, ttl=0.4)])).admitted
    await store.adjust([rpm(amount=1, ttl=0.4)])
    refused = await store.acquire([rpm(limit=3, ttl=0.4)])

    assert not refused.admitted
    assert refused.retry_after is not None
    assert refused.retry_after <= 0.2  # still the first write's window
    await asyncio.sleep(refused.retry_after + 0.05)
    assert await store.values(["rpm:k1:1"]) == (0.0,)


async def test_a_lease_restarts_at_each_admission_and_ends_when_idle(
    new_store: StoreFactory,
) -> None:
    store = new_store()
    slot = Charge("conc:k1", amount=1, limit=2, ttl_seconds=0.4, lease=True)
    release = Charge("conc:k1", amount=-1, limit=2, ttl_seconds=0)

    assert (await store.acquire([slot])).admitted
    await asyncio.sleep(0.25)
    assert (await store.acquire([slot])).admitted  # the lease restarts: 0.4 s from now
    await store.adjust([release])  # a release does not restart it
    await asyncio.sleep(0.25)  # past the first admission's end, within the second's

    both = await store.acquire([slot, slot_of("conc:k2")])
    assert both.admitted and both.values == (2.0, 1.0)
    full = await store.acquire([slot])
    assert not full.admitted and full.retry_after is None  # freed by releases, not by time

    await asyncio.sleep(0.5)  # nobody admitted for longer than the lease: the slots are back
    assert await store.values(["conc:k1"]) == (0.0,)
    assert (await store.acquire([slot])).values == (1.0,)


def slot_of(name: str) -> Charge:
    return Charge(name, amount=1, limit=1, ttl_seconds=0.4, lease=True)


async def test_a_lease_needs_a_ttl(new_store: StoreFactory) -> None:
    with pytest.raises(ValueError, match="lease"):
        await new_store().acquire([Charge("conc:k1", 1, 1, 0, lease=True)])


async def test_no_retry_after_when_waiting_cannot_help(new_store: StoreFactory) -> None:
    store = new_store()
    slots = Charge("concurrent:k1", amount=1, limit=1, ttl_seconds=0)
    await store.acquire([slots])

    full = await store.acquire([slots])
    too_big = await store.acquire([Charge("tpm:k1:1", amount=5000, limit=4000, ttl_seconds=60)])

    assert (full.admitted, full.retry_after) == (False, None)
    assert (too_big.admitted, too_big.retry_after, too_big.values) == (False, None, (0.0,))


async def test_adjust_settles_a_reservation_up_or_down(new_store: StoreFactory) -> None:
    store = new_store()
    reservation = Charge("tpm:k1:1", amount=1000, limit=1000, ttl_seconds=60)
    assert (await store.acquire([reservation])).admitted

    await store.adjust([Charge("tpm:k1:1", amount=-700, limit=1000, ttl_seconds=60)])
    assert await store.values(["tpm:k1:1"]) == (300.0,)

    await store.adjust([Charge("tpm:k1:1", amount=900, limit=1000, ttl_seconds=60)])
    assert await store.values(["tpm:k1:1"]) == (1200.0,)  # real usage may exceed the limit
    refused = await store.acquire([Charge("tpm:k1:1", amount=1, limit=1000, ttl_seconds=60)])
    assert not refused.admitted


async def test_adjust_creates_a_counter_with_its_ttl(new_store: StoreFactory) -> None:
    store = new_store()
    await store.adjust([Charge("usd:k1:day", amount=0.25, limit=1, ttl_seconds=0.2)])

    assert await store.values(["usd:k1:day"]) == (0.25,)
    await asyncio.sleep(0.3)
    assert await store.values(["usd:k1:day"]) == (0.0,)


async def test_releasing_a_concurrency_slot_never_goes_below_zero(
    new_store: StoreFactory,
) -> None:
    store = new_store()
    slot = Charge("concurrent:k1", amount=1, limit=2, ttl_seconds=0)
    release = Charge("concurrent:k1", amount=-1, limit=2, ttl_seconds=0)
    assert (await store.acquire([slot])).admitted

    await store.adjust([release])
    await store.adjust([release])  # a duplicate or late release

    assert await store.values(["concurrent:k1"]) == (0.0,)
    admissions = [await store.acquire([slot]) for _ in range(3)]
    assert [a.admitted for a in admissions] == [True, True, False]


async def test_clamping_a_windowed_counter_keeps_its_window(new_store: StoreFactory) -> None:
    store = new_store()
    charge = rpm(limit=1, ttl=0.3)
    assert (await store.acquire([charge])).admitted

    await store.adjust([rpm(amount=-5, ttl=0.3)])
    assert await store.values([charge.counter]) == (0.0,)
    assert (await store.acquire([charge])).admitted
    refused = await store.acquire([charge])

    assert refused.retry_after is not None
    assert refused.retry_after <= 0.3


async def test_ping(new_store: StoreFactory) -> None:
    await new_store().ping()
