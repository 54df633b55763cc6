import asyncio

import pytest

from serving.coalesce import Coalescer


def test_lone_call_goes_out_at_once_and_concurrent_calls_merge():
    seen: list[list[int]] = []

    async def backend(items: list[int]) -> list[int]:
        seen.append(list(items))
        await asyncio.sleep(0.01)
        return [i * 10 for i in items]

    async def main():
        c = Coalescer(backend, max_in_flight=1)
        assert await c.submit([1]) == [10]
        results = await asyncio.gather(*(c.submit([i, i + 100]) for i in range(8)))
        return c, results

    c, results = asyncio.run(main())
    assert results == [[i * 10, (i + 100) * 10] for i in range(8)]
    assert seen[0] == [1]
    # the first of the eight goes alone; the other seven ride one call while it is in flight
    assert len(seen) == 3 and seen[2] == [x for i in range(1, 8) for x in (i, i + 100)]
    assert c.calls == 3


def test_max_items_splits_big_queues():
    sizes: list[int] = []

    async def backend(items: list[int]) -> list[int]:
        sizes.append(len(items))
        await asyncio.sleep(0)
        return items

    async def main():
        c = Coalescer(backend, max_in_flight=1, max_items=4)
        return await asyncio.gather(*(c.submit([i, i]) for i in range(6)))

    assert asyncio.run(main()) == [[i, i] for i in range(6)]
    assert max(sizes) <= 4 and sum(sizes) == 12


def test_errors_reach_every_caller_and_the_next_call_works():
    calls = 0

    async def backend(items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.005)
        if calls <= 2:
            raise RuntimeError("predictor down")
        return items

    async def main():
        c = Coalescer(backend, max_in_flight=1)
        first = await asyncio.gather(*(c.submit([i]) for i in range(3)), return_exceptions=True)
        return first, await c.submit([7])

    first, after = asyncio.run(main())
    assert all(isinstance(r, RuntimeError) for r in first)
    assert after == [7]


def test_wrong_result_count_is_an_error():
    async def backend(items: list[int]) -> list[int]:
        return items[:-1]

    with pytest.raises(RuntimeError, match="2 results for 3"):
        asyncio.run(Coalescer(backend).submit([1, 2, 3]))
