"""Batched decoding for the local engine, written for prompts that share a long prefix.

Two things ``transformers``' ``generate`` doesn't do for a batch on CPU, where prefill is the
expensive part:

- The prompt prefix that every request shares (the system message) is prefilled once, kept in a
  :class:`PrefixCache` across calls, and copied into each batch; only the per-order remainder of
  each prompt is prefilled. Rows are laid out ``[shared prefix][padding][own suffix]`` with the
  padding masked and positions counted from the real tokens only, so each row sees exactly its
  own prompt.
- A row that has finished (end of sequence) leaves the batch, so the rest decode narrower.
- Appending a token writes it into a KV buffer with room to grow (:class:`RoomyLayer`) instead
  of copying the whole cache (``DynamicLayer`` concatenates), and attention reads the few
  key/value heads directly (grouped-query SDPA) instead of a copy expanded to every query head:
  at a batch of 8 those two copies cost more than the matrix products of the model itself.

Greedy decoding gives the same tokens as ``generate`` (a test checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface, DynamicCache
from transformers.cache_utils import DynamicLayer as _DynamicLayer
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

DynamicLayer: Any = _DynamicLayer  # untyped in transformers
ATTENTION = "ocs_gqa_sdpa"
NUCLEUS_CANDIDATES = 256


@dataclass(frozen=True)
class Decoded:
    ids: list[int]
    finished: bool  # ended with an end-of-sequence token (not included in ``ids``)


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    generator: torch.Generator | None = None


def common_prefix(rows: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix that all ``rows`` share."""
    if not rows:
        return 0
    n = min(len(r) for r in rows)
    first = rows[0]
    for i in range(n):
        token = first[i]
        if any(r[i] != token for r in rows[1:]):
            return i
    return n


class PrefixCache:
    """The KV cache of the last shared prefix, reused by the next call that starts the same way.

    A prefix shorter than ``min_tokens`` isn't worth a copy of the cache and is not reused.
    """

    def __init__(self, min_tokens: int = 32):
        self.min_tokens = min_tokens
        self.tokens: tuple[int, ...] = ()
        self._kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.hits = 0
        self.reused_tokens = 0

    def take(self, prefix: Sequence[int]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(n, per layer the keys and values of ``prefix[:n]``) for the longest stored match."""
        n = common_prefix([self.tokens, prefix]) if self._kv else 0
        if n < self.min_tokens:
            return 0, []
        self.hits += 1
        self.reused_tokens += n
        return n, [(k[:, :, :n], v[:, :, :n]) for k, v in self._kv]

    def keep(self, prefix: Sequence[int], kv: Any) -> None:
        if len(prefix) >= self.min_tokens:
            n = len(prefix)
            self.tokens = tuple(prefix)
            self._kv = [(x.keys[:, :, :n].clone(), x.values[:, :, :n].clone()) for x in kv.layers]


class RoomyLayer(DynamicLayer):  # type: ignore[misc]
    """One layer's keys and values in buffers with room for ``reserve`` more tokens.

    ``keys``/``values`` are views of the filled part, as ``DynamicLayer`` callers expect.
    """

    is_initialized: bool  # set by DynamicLayer

    def __init__(self, reserve: int):
        super().__init__()
        self.reserve = reserve
        self.length = 0
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.dtype, self.device = key_states.dtype, key_states.device
            self.is_initialized = True
        end = self.length + key_states.shape[-2]
        if self._k is None or self._v is None or end > self._k.shape[-2]:
            self._grow(key_states.shape[0], end + self.reserve, key_states, value_states)
        assert self._k is not None and self._v is not None
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        return self._views()

    def _grow(self, batch: int, room: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        k = keys.new_empty(batch, keys.shape[1], room, keys.shape[3])
        v = values.new_empty(batch, values.shape[1], room, values.shape[3])
        if self._k is not None and self._v is not None and self.length:
            k[:, :, : self.length] = self._k[:, :, : self.length]
            v[:, :, : self.length] = self._v[:, :, : self.length]
        self._k, self._v = k, v

    def _views(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self._k is not None and self._v is not None
        self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length

    def crop(self, tokens_to_remove: int) -> None:
        self.length = max(0, self.length - abs(tokens_to_remove))
        if self._k is not None:
            self._views()

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self._k is not None and self._v is not None:
            self._k = self._k.repeat_interleave(repeats, dim=0)
            self._v = self._v.repeat_interleave(repeats, dim=0)
            self._views()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self._k is not None and self._v is not None:
            self._k, self._v = self._k[indices], self._v[indices]
            self._views()


def roomy_cache(model: Any, reserve: int) -> Any:
    cache: Any = DynamicCache(config=model.config)
    cache.layers = [
        RoomyLayer(reserve) if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    return cache


def gqa_sdpa_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' SDPA attention, but with ``enable_gqa`` also when there is a padding mask
    (transformers then expands the key/value heads by copying; on CPU SDPA takes both)."""
    causal = query.shape[2] > 1 and attention_mask is None and is_causal is not False
    out = torch.nn.functional.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attention_mask,
        dropout_p=0.0,
        scale=scaling,
        is_causal=causal,
        enable_gqa=True,
    )
    return out.transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION, gqa_sdpa_attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def prepare(model: Any) -> Any:
    """Switch ``model`` to the attention above where it would otherwise use SDPA."""
    if getattr(model.config, "_attn_implementation", None) == "sdpa":
        model.set_attn_implementation(ATTENTION)
    return model


def decode(
    model: Any,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
    *,
    eos_ids: set[int],
    pad_id: int,
    prefix_cache: PrefixCache | None = None,
) -> list[Decoded]:
    """Continue every prompt (token ids) for up to ``sampling.max_new_tokens`` tokens."""
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token")
    device = model.device
    # Every row keeps at least one token of its own, whose logits start the generation.
    shared = min(common_prefix(prompts), min(len(p) for p in prompts) - 1)
    with torch.inference_mode():
        have, kept = prefix_cache.take(prompts[0][:shared]) if prefix_cache else (0, [])
        # Room for the longest prompt and every new token: one buffer per layer, never grown.
        kv = roomy_cache(model, reserve=max(map(len, prompts)) + sampling.max_new_tokens)
        for layer, (keys, values) in zip(kv.layers, kept, strict=False):
            layer.update(keys, values)
        if shared > have:
            ids = torch.tensor([prompts[0][have:shared]], device=device)
            positions = torch.arange(have, shared, device=device)[None]
            model(input_ids=ids, position_ids=positions, past_key_values=kv, logits_to_keep=1)
        if prefix_cache is not None and shared:
            prefix_cache.keep(prompts[0][:shared], kv)
        if shared:
            kv.batch_repeat_interleave(len(prompts))

        suffixes = [list(p[shared:]) for p in prompts]
        width = max(len(s) for s in suffixes)
        ids = torch.tensor(
            [[pad_id] * (width - len(s)) + s for s in suffixes], device=device, dtype=torch.long
        )
        own = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in suffixes], device=device)
        mask = torch.cat([torch.ones(len(prompts), shared, device=device, dtype=own.dtype), own], 1)
        positions = (shared + own.cumsum(1) - 1).clamp(min=shared)
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=kv,
            logits_to_keep=1,
        )
        return _continue(model, out.logits[:, -1, :], kv, mask, positions[:, -1], sampling, eos_ids)


def _continue(
    model: Any,
    logits: torch.Tensor,
    kv: Any,
    mask: torch.Tensor,
    position: torch.Tensor,
    sampling: Sampling,
    eos_ids: set[int],
) -> list[Decoded]:
    rows = list(range(logits.shape[0]))  # which prompt each row of the shrinking batch is
    generated: list[list[int]] = [[] for _ in rows]
    finished = [False] * len(rows)
    eos = torch.tensor(sorted(eos_ids), device=logits.device)
    for step in range(sampling.max_new_tokens):
        token = _sample(logits, sampling)
        done = torch.isin(token, eos)
        for row, t, d in zip(rows, token.tolist(), done.tolist(), strict=True):
            if d:
                finished[row] = True
            else:
                generated[row].append(t)
        if step == sampling.max_new_tokens - 1 or bool(done.all()):
            break
        if bool(done.any()):
            keep = (~done).nonzero().squeeze(1)
            kv.batch_select_indices(keep)
            token, mask, position = token[keep], mask[keep], position[keep]
            rows = [rows[i] for i in keep.tolist()]
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], 1)
        position = position + 1
        out = model(
            input_ids=token[:, None],
            attention_mask=mask,
            position_ids=position[:, None],
            past_key_values=kv,
        )
        logits = out.logits[:, -1, :]
    return [Decoded(ids, f) for ids, f in zip(generated, finished, strict=True)]


def _sample(logits: torch.Tensor, sampling: Sampling) -> torch.Tensor:
    if sampling.temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / sampling.temperature, -1)
    if sampling.top_p < 1:
        # Nucleus: the smallest set of tokens whose probability reaches top_p (at least one).
        # Sorting the whole vocabulary per step costs more than a batched decode step's
        # attention; the nucleus is nearly always among the top few hundred, so look there
        # first and sort everything only for a row whose top ones don't reach top_p.
        k = min(NUCLEUS_CANDIDATES, probs.shape[-1])
        sorted_probs, order = probs.topk(k, -1)
        if bool((sorted_probs.sum(-1) < sampling.top_p).any()):
            sorted_probs, order = probs.sort(-1, descending=True)
        outside = sorted_probs.cumsum(-1) - sorted_probs > sampling.top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0)
        choice = torch.multinomial(sorted_probs, 1, generator=sampling.generator)
        return order.gather(-1, choice).squeeze(-1)
    return torch.multinomial(probs, 1, generator=sampling.generator).squeeze(-1)
