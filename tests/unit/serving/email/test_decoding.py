"""The local engine's decoding against transformers' own ``generate`` on the real SmolLM2."""

from __future__ import annotations

import pytest

from serving.email.engines.decoding import (
    ATTENTION,
    PrefixCache,
    Sampling,
    common_prefix,
    decode,
    prepare,
)


def test_common_prefix() -> None:
    assert common_prefix([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
    assert common_prefix([[5, 6], [7]]) == 0
    assert common_prefix([[1, 2, 3]]) == 3
    assert common_prefix([]) == 0


@pytest.fixture(scope="module")
def smollm2():  # type: ignore[no-untyped-def]
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from serving.email.engines.base import EngineUnavailable
    from serving.email.engines.local import find_model

    try:
        path = find_model()
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
    torch.set_num_threads(1)
    kwargs = {"gguf_file": path.name}
    tok = transformers.AutoTokenizer.from_pretrained(str(path.parent), **kwargs)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(path.parent), **kwargs).eval()
    return tok, model


SYSTEM = (
    "You write short, warm customer-care emails on behalf of a dealer. Acknowledge the "
    "customer's situation with empathy, say what happens next, and sign with the dealer's name."
)


def prompts(tok, *users: str) -> list[list[int]]:  # type: ignore[no-untyped-def]
    out = []
    for user in users:
        messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        out.append(tok(text, add_special_tokens=False)["input_ids"])
    return out


def greedy(n: int) -> Sampling:
    return Sampling(max_new_tokens=n)


@pytest.mark.slow
def test_greedy_decoding_matches_generate_and_batching_changes_nothing(smollm2) -> None:  # type: ignore[no-untyped-def]
    import torch

    tok, model = smollm2
    rows = prompts(
        tok,
        "Order A-1: city bike, delayed two weeks. Customer Anna.",
        "Order B-22: running shoes, on time, financing declined; the customer, Ben, asked "
        "twice whether he can still change the size before it ships.",
        "Order C-333: tent. Customer Carla.",
    )
    eos = {tok.eos_token_id}
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    n = 16
    with torch.inference_mode():
        reference = model.generate(
            torch.tensor([rows[0]]), max_new_tokens=n, do_sample=False, pad_token_id=pad
        )
    expected = reference[0, len(rows[0]) :].tolist()
    prepare(model)  # what the engine runs: grouped-query SDPA, also with a padding mask
    assert model.config._attn_implementation == ATTENTION
    expected = (
        expected[: expected.index(tok.eos_token_id)] if tok.eos_token_id in expected else expected
    )

    alone = [decode(model, [r], greedy(n), eos_ids=eos, pad_id=pad)[0].ids for r in rows]
    assert alone[0] == expected

    # A batch of different lengths: shared prefix once, the rest padded in the middle.
    assert common_prefix(rows) > 20
    cache = PrefixCache(min_tokens=8)
    batched = decode(model, rows, greedy(n), eos_ids=eos, pad_id=pad, prefix_cache=cache)
    assert [d.ids for d in batched] == alone
    assert cache.tokens == tuple(rows[0][: common_prefix(rows)]) and cache.hits == 0

    # The next call reuses the kept prefix and still writes the same.
    again = decode(model, rows[1:], greedy(n), eos_ids=eos, pad_id=pad, prefix_cache=cache)
    assert cache.hits == 1 and cache.reused_tokens == common_prefix(rows)
    assert [d.ids for d in again] == alone[1:]


@pytest.mark.slow
def test_a_finished_row_leaves_the_batch_without_changing_the_others(smollm2) -> None:  # type: ignore[no-untyped-def]
    tok, model = smollm2
    first, second = prompts(tok, "Order A-1: bike. Customer Anna.", "Order B-2: shoes. Ben.")
    pad = tok.eos_token_id
    ids = decode(model, [first], greedy(6), eos_ids={tok.eos_token_id}, pad_id=pad)[0].ids
    stop = {ids[2]}  # a token the first row writes third: it ends there
    assert stop.isdisjoint(decode(model, [second], greedy(12), eos_ids=stop, pad_id=pad)[0].ids)

    a, b = decode(model, [first, second], greedy(12), eos_ids=stop, pad_id=pad)
    assert a.finished and len(a.ids) <= 2 and a.ids == ids[: len(a.ids)]
    assert b.ids == decode(model, [second], greedy(12), eos_ids=stop, pad_id=pad)[0].ids
    assert not b.finished and len(b.ids) == 12


def test_decode_refuses_an_empty_prompt() -> None:
    with pytest.raises(ValueError, match="at least one token"):
        decode(object(), [[1], []], greedy(1), eos_ids=set(), pad_id=0)


@pytest.mark.parametrize("vocab", [1000, 50_000])
def test_nucleus_sampling_draws_only_from_the_nucleus(vocab: int) -> None:
    """A peaked row (nucleus in the top candidates) and a flat one (whole-vocabulary sort)."""
    import torch

    from serving.email.engines.decoding import _sample

    peaked = torch.full((vocab,), -30.0)
    peaked[[7, 3, 11]] = torch.tensor([3.0, 2.0, 1.0])  # ~0.67, 0.24, 0.09 of the mass
    flat = torch.zeros(vocab)
    logits = torch.stack([peaked, flat]).repeat(200, 1)
    drawn = _sample(logits, Sampling(1, 1.0, 0.85, torch.Generator().manual_seed(0)))
    assert set(drawn[0::2].tolist()) == {7, 3}  # 0.67 < 0.85 needs the second, not the third
    flat_draws = drawn[1::2]
    assert len(set(flat_draws.tolist())) > 150 and int(flat_draws.max()) < vocab
