"""The vLLM engine up to its boundary, against vLLM 0.33's real classes (no GPU here).

What runs only on a GPU node: ``AsyncLLMEngine.from_engine_args`` and its ``generate`` loop.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from serving.email.engines.base import EMAIL_SCHEMA, EngineUnavailable, GenerationParams
from serving.email.engines.vllm_engine import (
    VllmEngine,
    VllmOptions,
    chat_prompt,
    completion,
    engine_args,
    fold_system,
    sampling_params,
)

vllm = pytest.importorskip("vllm", reason="vLLM's classes are installed by `make install`")

MESSAGES = [
    {"role": "system", "content": "You write emails for Velo Haus."},
    {"role": "user", "content": "Order ORD-1 is late. Write to Anna."},
]


def test_engine_args_come_from_settings():
    options = VllmOptions(
        max_model_len=4096,
        gpu_memory_utilization=0.85,
        enable_prefix_caching=True,
        dtype="bfloat16",
        quantization="awq",
        tensor_parallel_size=2,
    )
    args = engine_args("mistralai/Mistral-7B-Instruct-v0.3", options)
    assert isinstance(args, vllm.AsyncEngineArgs)
    assert args.model == "mistralai/Mistral-7B-Instruct-v0.3"
    assert (args.max_model_len, args.gpu_memory_utilization) == (4096, 0.85)
    assert args.enable_prefix_caching is True and args.dtype == "bfloat16"
    assert args.quantization == "awq" and args.tensor_parallel_size == 2


def test_sampling_params_carry_the_json_schema_as_structured_outputs():
    from vllm.sampling_params import StructuredOutputsParams

    params = sampling_params(GenerationParams(0.3, 0.9, 320, seed=7), EMAIL_SCHEMA)
    assert isinstance(params, vllm.SamplingParams)
    assert (params.temperature, params.top_p, params.max_tokens, params.seed) == (0.3, 0.9, 320, 7)
    assert isinstance(params.structured_outputs, StructuredOutputsParams)
    assert params.structured_outputs.json == EMAIL_SCHEMA
    assert set(EMAIL_SCHEMA["required"]) == {"subject", "body"}
    assert sampling_params(GenerationParams(), None).structured_outputs is None


def test_mistral_prompts_fold_the_system_message_into_the_first_user_turn():
    folded = fold_system(MESSAGES)
    assert [m["role"] for m in folded] == ["user"]
    assert folded[0]["content"].startswith("You write emails for Velo Haus.\n\nOrder ORD-1")
    assert fold_system([MESSAGES[0]]) == [{"role": "user", "content": MESSAGES[0]["content"]}]


def test_chat_prompt_renders_through_a_real_chat_template():
    """SmolLM2's tokenizer stands in for Mistral's (no download here): same HF API."""
    from serving.email.engines.local import find_model

    transformers = pytest.importorskip("transformers")
    path = find_model()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    plain = chat_prompt(tokenizer, MESSAGES, "HuggingFaceTB/SmolLM2")
    assert "<|im_start|>system\nYou write emails" in plain
    assert plain.rstrip().endswith("<|im_start|>assistant")
    folded = chat_prompt(tokenizer, MESSAGES, "mistralai/Mistral-7B-Instruct-v0.3")
    assert "<|im_start|>system" not in folded.split("You write emails")[0][-30:]
    assert "You write emails for Velo Haus.\n\nOrder ORD-1" in folded


def test_a_real_request_output_becomes_a_completion():
    from vllm.outputs import CompletionOutput, RequestOutput

    text = '{"subject": "Your order", "body": "Dear Anna, ..."}'
    output = RequestOutput(
        request_id="email-1",
        prompt="<s>[INST] ...",
        prompt_token_ids=list(range(281)),
        prompt_logprobs=None,
        outputs=[
            CompletionOutput(
                index=0,
                text=text,
                token_ids=list(range(143)),
                cumulative_logprob=None,
                logprobs=None,
                finish_reason="stop",
            )
        ],
        finished=True,
    )
    got = completion(output)
    assert (got.text, got.tokens_in, got.tokens_out, got.finish_reason) == (text, 281, 143, "stop")


def test_without_vllm_the_engine_fails_loudly_with_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # what a CPU install without the extra sees
    engine = VllmEngine("mistralai/Mistral-7B-Instruct-v0.3", VllmOptions())
    with pytest.raises(EngineUnavailable, match=r"pip install '\.\[gpu\]'"):
        asyncio.run(engine.load())
    assert not engine.healthy()


def test_weights_come_from_the_local_cache_when_it_holds_the_model(tmp_path):
    from serving.email.engines.factory import resolve_weights

    model = "mistralai/Mistral-7B-Instruct-v0.3"
    assert resolve_weights(model, None) == model
    assert resolve_weights(model, tmp_path) == model  # not cached: the hub id
    (tmp_path / model).mkdir(parents=True)
    assert resolve_weights(model, tmp_path) == str(tmp_path / model)
