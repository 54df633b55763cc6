"""The vLLM engine: vLLM's async engine in this process (the EmailGenerator replica, on a GPU).

vLLM is imported only in ``load()`` and the builders below; without the ``gpu`` extra they raise
``EngineUnavailable`` with the command to fix it. The parts that need no GPU (engine arguments,
sampling parameters with the JSON schema, the chat prompt, reading a ``RequestOutput``) are
plain functions so that the tests run them against vLLM's real classes.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from serving.email.engines.base import (
    Completion,
    EngineError,
    EngineUnavailable,
    GenerationParams,
    GenerationRequest,
)

INSTALL_HINT = "install the gpu extra on a GPU machine: pip install '.[gpu]' (vllm==0.33.0)"


@dataclass(frozen=True)
class VllmOptions:
    """``AsyncEngineArgs`` fields taken from settings, each from ``Settings.vllm_<field>``."""

    max_model_len: int = 8192
    gpu_memory_utilization: float = 0.9
    enable_prefix_caching: bool = True
    dtype: str = "auto"
    quantization: str | None = None
    tensor_parallel_size: int = 1


def _vllm() -> Any:
    try:
        import vllm
    except ImportError as exc:
        raise EngineUnavailable(f"the vllm engine needs vLLM: {INSTALL_HINT} ({exc})") from exc
    return vllm


def engine_args(model: str, options: VllmOptions) -> Any:
    """``AsyncEngineArgs`` from settings (prefix caching pays off: every email shares a prompt)."""
    vllm = _vllm()
    return vllm.AsyncEngineArgs(model=model, **asdict(options))


def sampling_params(params: GenerationParams, json_schema: dict[str, Any] | None) -> Any:
    """``SamplingParams``; with a schema, structured outputs force ``{subject, body}`` JSON."""
    vllm = _vllm()
    from vllm.sampling_params import StructuredOutputsParams

    structured = StructuredOutputsParams(json=json_schema) if json_schema else None
    return vllm.SamplingParams(
        temperature=params.temperature,
        top_p=params.top_p,
        max_tokens=params.max_tokens,
        seed=params.seed,
        structured_outputs=structured,
    )


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Mistral's chat template has no system role: the system text opens the first user turn."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    if system and rest and rest[0]["role"] == "user":
        rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
    elif system:
        rest.insert(0, {"role": "user", "content": system})
    return rest


def chat_prompt(tokenizer: Any, messages: list[dict[str, str]], model: str) -> str:
    chat = fold_system(messages) if "mistral" in model.lower() else messages
    prompt: str = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return prompt


def completion(output: Any) -> Completion:
    """A finished ``vllm.RequestOutput`` as a ``Completion``."""
    if not output.outputs:
        raise EngineError(f"vLLM request {output.request_id} finished without output")
    first = output.outputs[0]
    return Completion(
        text=first.text,
        tokens_in=len(output.prompt_token_ids or []),
        tokens_out=len(first.token_ids or []),
        finish_reason=first.finish_reason or "stop",
    )


class VllmEngine:
    kind = "vllm"

    def __init__(self, model: str, options: VllmOptions):
        self.model = model
        self.options = options
        self._engine: Any = None
        self._tokenizer: Any = None

    async def load(self) -> None:
        args = engine_args(self.model, self.options)
        from vllm.engine.async_llm_engine import AsyncLLMEngine

        self._engine = AsyncLLMEngine.from_engine_args(args)
        self._tokenizer = self._engine.get_tokenizer()

    async def generate(self, requests: list[GenerationRequest]) -> list[Completion]:
        # vLLM batches concurrent requests itself (continuous batching): submit them all.
        return list(await asyncio.gather(*(self._one(r) for r in requests)))

    async def _one(self, request: GenerationRequest) -> Completion:
        if self._engine is None:
            raise EngineError("the vllm engine is not loaded")
        prompt = chat_prompt(self._tokenizer, request.messages, self.model)
        params = sampling_params(request.params, request.json_schema)
        final = None
        async for output in self._engine.generate(prompt, params, f"email-{uuid.uuid4().hex}"):
            final = output
        if final is None:
            raise EngineError("vLLM returned no output")
        return completion(final)

    def healthy(self) -> bool:
        return self._engine is not None and not self._engine.errored

    async def close(self) -> None:
        if self._engine is not None:
            self._engine.shutdown()
            self._engine = None
