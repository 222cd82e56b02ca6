"""``pipeline("text-generation", model=checkpoint_dir)`` in a fresh process: what a user gets after
``pip install gpt-from-scratch`` and ``import gpt_from_scratch``, with no code of ours in between."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = ["Every effort moves you", "Hello", "The quick brown fox jumps over the lazy", "I"]

SCRIPT = textwrap.dedent(
    """
    import json, sys

    import gpt_from_scratch  # registers the model type with the Auto classes
    from transformers import pipeline

    prompts = json.loads(sys.argv[2])
    pipe = pipeline("text-generation", model=sys.argv[1])
    single = pipe(prompts[0], max_new_tokens=10, do_sample=False)
    batched = pipe(prompts, max_new_tokens=10, do_sample=False, batch_size=4)
    print(json.dumps({
        "model_class": type(pipe.model).__name__,
        "single": single[0]["generated_text"],
        "batched": [result[0]["generated_text"] for result in batched],
        "continuation_only": pipe(prompts[1], max_new_tokens=5, do_sample=False, return_full_text=False)[0]["generated_text"],
    }))
    """
)


@pytest.fixture(scope="module")
def pipeline_results(tiny_checkpoint):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_checkpoint), json.dumps(PROMPTS)],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def reference(tiny_checkpoint):
    """Each prompt alone through ``generate()`` in this process: the independent reference."""
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)

    def texts(max_new_tokens):
        out = []
        for prompt in PROMPTS:
            ids = tokenizer(prompt, return_tensors="pt").input_ids
            out.append(tokenizer.decode(model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)[0]))
        return out

    return texts


def test_pipeline_loads_our_model_in_a_fresh_process(pipeline_results):
    assert pipeline_results["model_class"] == "GPTForCausalLM"


def test_pipeline_single_prompt_and_batch_equal_generate(pipeline_results, reference):
    expected = reference(max_new_tokens=10)
    assert pipeline_results["single"] == expected[0]
    # Batching left-pads prompts of different lengths; every row must still be what its prompt gives alone.
    assert pipeline_results["batched"] == expected
    assert len(set(expected)) == len(expected)


def test_pipeline_can_return_the_continuation_only(pipeline_results, reference):
    full = reference(max_new_tokens=5)[1]
    assert pipeline_results["continuation_only"] == full[len(PROMPTS[1]) :]


def test_saved_tokenizer_is_ready_for_batched_generation(tiny_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    assert tokenizer.pad_token_id == tokenizer.eos_token_id == 50256
    assert tokenizer.padding_side == "left"
    batch = tokenizer(PROMPTS[:2], padding=True, return_tensors="pt")
    assert batch.input_ids[1, 0] == 50256 and batch.attention_mask[1, 0] == 0 and batch.attention_mask[1, -1] == 1
