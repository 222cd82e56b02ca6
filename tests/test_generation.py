"""generate() with the key/value cache: exact against the book's loop, a full forward pass and stock
transformers GPT-2 on the same weights; the context limit and the book's opt-in cropping; the CLI."""

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, GenerationConfig, TextStreamer, set_seed
from transformers.cache_utils import DynamicLayer

from gpt_from_scratch import GPTConfig, GPTForCausalLM, generate_text_simple, modeling_gpt
from gpt_from_scratch.cli import main
from gpt_from_scratch.generation import generate_text
from gpt_from_scratch.modeling_gpt import PreallocatedLayer, linear_across_threads
from tests.conftest import stock_gpt2_twin

# Small vocabularies keep the book loop (which recomputes every logit of every position) fast; no
# end-of-text token, so every row generates exactly max_new_tokens.
NO_EOS = {"bos_token_id": None, "eos_token_id": None, "drop_rate": 0.0, "n_heads": 4, "n_layers": 2}
WIDE_WINDOW = GPTConfig(vocab_size=1000, context_length=256, emb_dim=32, qkv_bias=True, **NO_EOS)
NARROW_WINDOW = GPTConfig(vocab_size=300, context_length=32, emb_dim=32, **NO_EOS)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These tiny models spend their time dispatching operators, not computing: a second thread only
    # adds synchronisation, which costs many times over when other processes share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def seeded_model(config: GPTConfig, seed: int = 0) -> GPTForCausalLM:
    torch.manual_seed(seed)
    return GPTForCausalLM(config).eval()


@pytest.fixture(scope="module")
def wide_model():
    return seeded_model(WIDE_WINDOW)


@pytest.fixture(scope="module")
def narrow_model():
    return seeded_model(NARROW_WINDOW)


def prompt(length: int, vocab_size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab_size, (1, length), generator=torch.Generator().manual_seed(seed))


def count_forward_calls(model) -> list:
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    return calls


# -- exactness ---------------------------------------------------------------------------------------


def test_greedy_generate_equals_the_book_loop_for_200_tokens(wide_model):
    ids = prompt(6, WIDE_WINDOW.vocab_size)
    ours = wide_model.generate(ids, max_new_tokens=200, do_sample=False)
    book = generate_text_simple(wide_model, ids, max_new_tokens=200, context_size=WIDE_WINDOW.context_length)
    assert ours.shape == (1, 206)
    assert torch.equal(ours, book)
    assert len(set(ours[0, 6:].tolist())) > 50  # a real sequence, not one token repeated
    assert torch.equal(stock_gpt2_twin(wide_model).generate(ids, max_new_tokens=200, do_sample=False), ours)


def test_cached_logits_equal_a_full_forward_pass_at_every_step(wide_model):
    ids = prompt(9, WIDE_WINDOW.vocab_size)
    out = wide_model.generate(ids, max_new_tokens=60, return_dict_in_generate=True, output_logits=True)
    with torch.no_grad():
        full = wide_model(input_ids=out.sequences[:, :-1], use_cache=False).logits
    assert len(out.logits) == 60
    for step, logits in enumerate(out.logits):
        assert (logits - full[:, 8 + step]).abs().max() <= 1e-5, f"step {step}"

    # The same through forward() alone: the model creates the cache and derives the positions.
    with torch.no_grad():
        step_out = wide_model(input_ids=out.sequences[:, :9], use_cache=True)
        for position in range(9, out.sequences.shape[1] - 1):
            assert (step_out.logits[:, -1] - full[:, position - 1]).abs().max() <= 1e-5
            step_out = wide_model(input_ids=out.sequences[:, position : position + 1], cache=step_out.cache)


def test_left_padded_batch_gives_each_prompt_what_it_gives_alone(wide_model):
    lengths = [3, 17, 8, 1, 12, 5, 16, 9]
    prompts = [prompt(n, WIDE_WINDOW.vocab_size, seed=i)[0] for i, n in enumerate(lengths)]
    width = max(lengths)
    ids = torch.zeros(len(prompts), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p) :] = p
        mask[row, width - len(p) :] = 1
    batch = wide_model.generate(
        ids, attention_mask=mask, max_new_tokens=20, return_dict_in_generate=True, output_logits=True
    )
    for row, p in enumerate(prompts):
        alone = wide_model.generate(p[None], max_new_tokens=20, return_dict_in_generate=True, output_logits=True)
        assert torch.equal(batch.sequences[row, width:], alone.sequences[0, len(p) :]), f"row {row}"
        for a, b in zip(batch.logits, alone.logits):
            assert (a[row] - b[0]).abs().max() <= 1e-5


@pytest.mark.parametrize(
    "options",
    [
        {"do_sample": True},
        {"do_sample": True, "temperature": 0.6},
        {"do_sample": True, "top_k": 10},
        {"do_sample": True, "top_p": 0.8},
        {"do_sample": True, "temperature": 1.3, "top_k": 50, "top_p": 0.9, "repetition_penalty": 1.2},
        {"do_sample": False, "repetition_penalty": 1.5},
        {"do_sample": False, "num_beams": 4, "num_return_sequences": 2, "length_penalty": 0.7},
    ],
    ids=["sample", "temperature", "top_k", "top_p", "all", "repetition_penalty", "beams"],
)
def test_decoding_options_match_stock_gpt2_and_are_reproducible(wide_model, options):
    ids = prompt(5, WIDE_WINDOW.vocab_size)
    twin = stock_gpt2_twin(wide_model)

    def run(model, seed):
        set_seed(seed)
        return model.generate(ids, max_new_tokens=25, return_dict_in_generate=True, output_scores=True, **options)

    ours, again, theirs = run(wide_model, 7), run(wide_model, 7), run(twin, 7)
    assert torch.equal(ours.sequences, again.sequences)
    assert torch.equal(ours.sequences, theirs.sequences)
    if options.get("num_beams"):
        torch.testing.assert_close(ours.sequences_scores, theirs.sequences_scores, atol=1e-5, rtol=1e-5)
    if options.get("do_sample"):
        assert not torch.equal(run(wide_model, 8).sequences, ours.sequences)
    for a, b in zip(ours.scores, theirs.scores):  # the processed scores the tokens were chosen from
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    if options.get("repetition_penalty"):
        plain = wide_model.generate(ids, max_new_tokens=25, return_dict_in_generate=True, output_scores=True)
        assert not torch.allclose(plain.scores[-1], ours.scores[-1])


def test_stop_strings_stop_where_stock_gpt2_stops(tiny_model, gpt2_tokenizer):
    ids = gpt2_tokenizer("Every effort moves you", return_tensors="pt").input_ids
    free = tiny_model.generate(ids, max_new_tokens=30, do_sample=False)
    stop = gpt2_tokenizer.decode(free[0, ids.shape[1] + 12])
    assert stop.strip(), "pick a visible stop string"
    ours = tiny_model.generate(ids, max_new_tokens=30, stop_strings=stop, tokenizer=gpt2_tokenizer)
    theirs = stock_gpt2_twin(tiny_model).generate(
        ids, max_new_tokens=30, stop_strings=stop, tokenizer=gpt2_tokenizer, pad_token_id=50256
    )
    assert torch.equal(ours, theirs)
    assert ours.shape[1] <= ids.shape[1] + 13 < free.shape[1]
    assert gpt2_tokenizer.decode(ours[0, ids.shape[1] :]).endswith(stop)


def test_text_streamer_prints_what_stock_gpt2_prints(tiny_model, gpt2_tokenizer, capsys):
    ids = gpt2_tokenizer("Every effort moves you", return_tensors="pt").input_ids
    ours = tiny_model.generate(ids, max_new_tokens=12, streamer=TextStreamer(gpt2_tokenizer))
    printed = capsys.readouterr().out
    stock_gpt2_twin(tiny_model).generate(
        ids, max_new_tokens=12, streamer=TextStreamer(gpt2_tokenizer), pad_token_id=50256
    )
    assert capsys.readouterr().out == printed == gpt2_tokenizer.decode(ours[0]) + "\n"


def test_generation_config_json_drives_generate(tiny_model, tmp_path):
    ids = torch.tensor([[6109, 3626, 6100, 345]])
    tiny_model.generation_config.update(max_new_tokens=9, do_sample=True, top_k=7, temperature=0.8)
    tiny_model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert loaded.generation_config.pad_token_id == 50256
    assert loaded.generation_config.top_k == 7

    set_seed(3)
    from_json = loaded.generate(ids)
    set_seed(3)
    explicit = tiny_model.generate(ids, max_new_tokens=9, do_sample=True, top_k=7, temperature=0.8)
    twin = stock_gpt2_twin(tiny_model)
    twin.generation_config = GenerationConfig.from_pretrained(tmp_path)
    set_seed(3)
    assert torch.equal(from_json, explicit) and torch.equal(from_json, twin.generate(ids))
    assert from_json.shape == (1, 13)


def test_pad_token_defaults_to_end_of_text_so_generate_does_not_warn(tiny_model, caplog, recwarn):
    assert tiny_model.generation_config.pad_token_id == tiny_model.config.eos_token_id == 50256
    ids = torch.tensor([[6109, 3626, 6100, 345], [50256, 50256, 40, 588]])
    tiny_model.generate(ids, attention_mask=(torch.arange(4) >= torch.tensor([[0], [2]])).long(), max_new_tokens=3)
    tiny_model.generate(ids[:1], max_new_tokens=3)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    assert not [w for w in recwarn if "generat" in str(w.message).lower()]


@pytest.mark.parametrize("options", [{"use_cache": False}, {"cache_implementation": "static"}])
def test_other_cache_settings_give_the_same_tokens(wide_model, options):
    ids = prompt(7, WIDE_WINDOW.vocab_size)
    reference = wide_model.generate(ids, max_new_tokens=30)
    assert torch.equal(wide_model.generate(ids, max_new_tokens=30, **options), reference)


def test_decoding_relayouts_widening_weights_without_changing_the_model(tmp_path):
    model = seeded_model(NARROW_WINDOW)
    ids = prompt(5, NARROW_WINDOW.vocab_size)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    with torch.no_grad():
        logits_before = model(input_ids=ids).logits
    with torch.inference_mode():
        model.generate(ids, max_new_tokens=3)

    head, ff_in, ff_out = (
        model.out_head.weight,
        model.trf_blocks[0].ff.layers[0].weight,
        model.trf_blocks[0].ff.layers[2].weight,
    )
    assert head.shape == (300, 32) and head.stride() == (1, 300)  # input-major, like GPT-2's Conv1D
    assert ff_in.stride(0) == 1 and ff_out.is_contiguous()  # narrowing layers keep their layout
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[name], before[name]) for name in before)
    with torch.no_grad():
        assert (model(input_ids=ids).logits - logits_before).abs().max() <= 1e-5
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path).state_dict()
    assert all(torch.equal(reloaded[name], before[name]) for name in before)

    # Generating under inference_mode leaves the model trainable.
    model.train()
    model(input_ids=ids, labels=ids).loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert not torch.equal(model.out_head.weight, before["out_head.weight"])


def test_decoding_reads_query_key_and_value_as_one_stacked_matrix(wide_model):
    fused_during_steps = []

    def record(module, args):
        fused_during_steps.append(module.fused_qkv)

    attention = wide_model.trf_blocks[1].att
    handle = attention.register_forward_pre_hook(record)
    try:
        wide_model.generate(prompt(5, WIDE_WINDOW.vocab_size), max_new_tokens=4)
    finally:
        handle.remove()

    prefill, *steps = fused_during_steps
    assert prefill is None and len(steps) == 3
    weight, bias = steps[0]
    layers = (attention.W_query, attention.W_key, attention.W_value)
    assert torch.equal(weight, torch.cat([layer.weight for layer in layers]))
    assert torch.equal(bias, torch.cat([layer.bias for layer in layers]))
    assert weight.stride() == (1, 3 * WIDE_WINDOW.emb_dim)  # input-major, like GPT-2's fused c_attn
    assert attention.fused_qkv is None  # dropped when decoding ends


def test_a_hooked_projection_is_not_fused_away(narrow_model):
    seen = []
    handle = narrow_model.trf_blocks[0].att.W_key.register_forward_hook(lambda module, args, out: seen.append(out))
    try:
        narrow_model.generate(prompt(5, NARROW_WINDOW.vocab_size), max_new_tokens=4)
    finally:
        handle.remove()
    assert len(seen) == 4  # the prompt and three decoding steps all ran through W_key


def test_a_global_module_hook_still_sees_every_projection(narrow_model):
    key_layer = narrow_model.trf_blocks[0].att.W_key
    seen = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: seen.append(1) if module is key_layer else None
    )
    try:
        narrow_model.generate(prompt(5, NARROW_WINDOW.vocab_size), max_new_tokens=4)
    finally:
        handle.remove()
    assert len(seen) == 4


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("layout", ["row-major", "input-major"])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("rows", [(1, 1), (3, 1), (2, 5)])
def test_linear_across_threads_equals_f_linear(parts, layout, with_bias, rows):
    generator = torch.Generator().manual_seed(parts)
    weight = torch.randn(37, 16, generator=generator)  # 37 features: the blocks leave some over
    if layout == "input-major":
        weight = weight.t().contiguous().t()
    bias = torch.randn(37, generator=generator) if with_bias else None
    x = torch.randn(*rows, 16, generator=generator)
    got = linear_across_threads(x, weight, bias, parts=parts)
    assert got.shape == (*rows, 37) and got.is_contiguous()
    torch.testing.assert_close(got, torch.nn.functional.linear(x, weight, bias), rtol=0, atol=1e-5)


def test_decoding_splits_large_products_across_threads_with_the_same_results(wide_model, monkeypatch):
    # The split needs several torch threads and weights above a size that these tiny models lower to 1 element.
    monkeypatch.setattr(modeling_gpt, "_MIN_ELEMENTS_PER_THREAD", 1)
    ids = torch.tensor([[0, 0, 5, 9, 2], [7, 1, 3, 3, 8]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    swapped_during_steps = []
    head = wide_model.out_head
    handle = head.register_forward_hook(lambda module, args, out: swapped_during_steps.append("forward" in vars(module)))
    torch.set_num_threads(2)
    try:
        out = wide_model.generate(
            ids, attention_mask=mask, max_new_tokens=12, return_dict_in_generate=True, output_logits=True
        )
    finally:
        torch.set_num_threads(1)
        handle.remove()
    assert swapped_during_steps == [False] + [True] * 11  # the prompt runs as it is; every step is split
    assert not any("forward" in vars(module) for module in wide_model.modules())  # restored afterwards

    # Against stock GPT-2 on one thread: the same tokens, and logits equal to rounding.
    stock = stock_gpt2_twin(wide_model).generate(
        ids, attention_mask=mask, max_new_tokens=12, return_dict_in_generate=True, output_logits=True
    )
    assert torch.equal(out.sequences, stock.sequences)
    for ours, reference in zip(out.logits, stock.logits, strict=True):
        assert (ours - reference).abs().max() <= 1e-5


def test_preallocated_cache_layer_matches_dynamic_layer():
    # transformers' DynamicLayer is the reference: same keys and values after every operation generate()
    # and its helpers apply (appends, cropping, beam reordering, batch selection and repetition, reset).
    generator = torch.Generator().manual_seed(0)

    def states(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        return tuple(torch.randn(batch, 2, length, 4, generator=generator) for _ in range(2))

    ours, reference = PreallocatedLayer(max_length=6), DynamicLayer()
    steps = [
        ("update", 3, 3), ("update", 3, 1), ("update", 3, 2),  # fills the room of 6 exactly
        ("update", 3, 1),  # past the room: grows
        ("crop", -2), ("update", 3, 1),
        ("reorder", [2, 0, 0]), ("update", 3, 1),
        ("select", [0, 2]), ("update", 2, 2),
        ("repeat", 2), ("update", 4, 1),
        ("reset",), ("update", 4, 2), ("update", 4, 1),
    ]  # fmt: skip
    for step in steps:
        if step[0] == "update":
            key, value = states(step[1], step[2])
            got, expected = ours.update(key, value), reference.update(key, value)
            assert all(torch.equal(a, b) for a, b in zip(got, expected)), step
        else:
            for layer in (ours, reference):
                if step[0] == "crop":
                    layer.crop(step[1])
                elif step[0] == "reorder":
                    layer.reorder_cache(torch.tensor(step[1]))
                elif step[0] == "select":
                    layer.batch_select_indices(torch.tensor(step[1]))
                elif step[0] == "repeat":
                    layer.batch_repeat_interleave(step[1])
                else:
                    layer.reset()
        assert ours.get_seq_length() == reference.get_seq_length(), step
        if reference.get_seq_length():
            assert torch.equal(ours.keys, reference.keys) and torch.equal(ours.values, reference.values), step


def test_generate_writes_the_cache_in_place(wide_model):
    cached_keys = []
    attention = wide_model.trf_blocks[0].att
    handle = attention.register_forward_hook(lambda module, args, out: cached_keys.append(args[2].layers[0].keys))
    try:
        out = wide_model.generate(prompt(5, WIDE_WINDOW.vocab_size), max_new_tokens=8, return_dict_in_generate=True)
    finally:
        handle.remove()
    # One allocation, sized for the whole generation (5 + 8 - 1 cached positions): every step's keys are a
    # longer view of the same memory, with nothing copied.
    assert len({keys.data_ptr() for keys in cached_keys}) == 1
    assert [keys.shape[-2] for keys in cached_keys] == list(range(5, 13))
    assert isinstance(out.cache.layers[0], PreallocatedLayer) and out.cache.layers[0].max_length == 12


def test_cached_decoding_compiles_as_one_graph(narrow_model):
    # torch.compile(fullgraph=True) fails on any graph break; the eager backend traces without code generation.
    ids = prompt(6, NARROW_WINDOW.vocab_size)
    compiled = torch.compile(narrow_model, fullgraph=True, backend="eager")
    with torch.no_grad():
        eager_out = narrow_model(input_ids=ids[:, :5], use_cache=True)
        eager_step = narrow_model(input_ids=ids[:, 5:], cache=eager_out.cache)
        out = compiled(input_ids=ids[:, :5], use_cache=True)
        step = compiled(input_ids=ids[:, 5:], cache=out.cache)
    assert out.cache.get_seq_length() == 6
    torch.testing.assert_close(step.logits, eager_step.logits, rtol=0, atol=1e-5)


def test_bfloat16_weights_keep_their_layout():
    # MKL's bfloat16 matrix-vector products are slower on input-major weights.
    model = seeded_model(NARROW_WINDOW).to(torch.bfloat16)
    model.generate(prompt(5, NARROW_WINDOW.vocab_size), max_new_tokens=3)
    assert all(p.is_contiguous() for p in model.parameters())


def test_a_tied_output_head_keeps_the_embedding_layout():
    model = seeded_model(GPTConfig(**{**NARROW_WINDOW.to_dict(), "tie_word_embeddings": True}))
    model.generate(prompt(5, NARROW_WINDOW.vocab_size), max_new_tokens=3)
    assert model.out_head.weight is model.tok_emb.weight and model.tok_emb.weight.is_contiguous()


# -- the context window --------------------------------------------------------------------------------


def test_a_request_past_the_window_is_refused_before_any_compute(narrow_model):
    calls = count_forward_calls(narrow_model)
    with pytest.raises(ValueError, match=r"prompt of 10 tokens plus max_new_tokens=24 .*context_length=32"):
        narrow_model.generate(prompt(10, NARROW_WINDOW.vocab_size), max_new_tokens=24)
    with pytest.raises(ValueError, match=r"the prompt has 40 tokens, more than context_length=32"):
        narrow_model.generate(prompt(40, NARROW_WINDOW.vocab_size), max_new_tokens=1)
    with pytest.raises(ValueError, match="crop_to_context=True"):
        narrow_model.generate(prompt(10, NARROW_WINDOW.vocab_size), max_new_tokens=24, num_beams=2)
    assert calls == []


def test_the_last_token_may_end_one_past_the_window(narrow_model):
    # The final token is never fed back, so 10 + 23 tokens need only 32 positions, as in the book's loop.
    ids = prompt(10, NARROW_WINDOW.vocab_size)
    book = generate_text_simple(narrow_model, ids, max_new_tokens=23, context_size=32)
    assert torch.equal(narrow_model.generate(ids, max_new_tokens=23), book)


@pytest.mark.parametrize("prompt_length", [5, 31, 50])
@pytest.mark.parametrize("use_cache", [True, False])
def test_crop_to_context_equals_the_book_loop(narrow_model, prompt_length, use_cache):
    ids = prompt(prompt_length, NARROW_WINDOW.vocab_size)
    book = generate_text_simple(narrow_model, ids, max_new_tokens=45, context_size=32)
    ours = narrow_model.generate(ids, max_new_tokens=45, crop_to_context=True, use_cache=use_cache)
    assert torch.equal(ours, book)


def test_crop_to_context_keeps_left_padded_rows_independent(narrow_model):
    prompts = [prompt(n, NARROW_WINDOW.vocab_size, seed=n)[0] for n in (4, 20, 11)]
    ids = torch.zeros(3, 20, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, 20 - len(p) :], mask[row, 20 - len(p) :] = p, 1
    batch = narrow_model.generate(ids, attention_mask=mask, max_new_tokens=30, crop_to_context=True)
    for row, p in enumerate(prompts):
        alone = generate_text_simple(narrow_model, p[None], max_new_tokens=30, context_size=32)
        assert torch.equal(batch[row, 20:], alone[0, len(p) :]), f"row {row}"


def test_crop_to_context_from_the_generation_config(tmp_path):
    model = seeded_model(NARROW_WINDOW)
    model.generation_config.crop_to_context = True
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = prompt(12, NARROW_WINDOW.vocab_size)
    book = generate_text_simple(model, ids, max_new_tokens=40, context_size=32)
    assert torch.equal(loaded.generate(ids, max_new_tokens=40), book)
    assert torch.equal(
        loaded.generate(ids, generation_config=copy.deepcopy(loaded.generation_config), max_new_tokens=40), book
    )
    with pytest.raises(ValueError, match="context_length=32"):
        loaded.generate(ids, max_new_tokens=40, crop_to_context=False)


def test_crop_to_context_must_be_a_bool(narrow_model):
    with pytest.raises(TypeError, match="crop_to_context must be True or False, got 'yes'"):
        narrow_model.generate(prompt(3, NARROW_WINDOW.vocab_size), max_new_tokens=2, crop_to_context="yes")


def test_a_misspelt_generate_argument_is_still_caught(narrow_model):
    with pytest.raises(ValueError, match="crop_to_contxt"):
        narrow_model.generate(prompt(3, NARROW_WINDOW.vocab_size), max_new_tokens=2, crop_to_contxt=True)


# -- gpt-from-scratch generate ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint_model(tiny_checkpoint):
    return AutoModelForCausalLM.from_pretrained(tiny_checkpoint)


def expected_text(model, tokenizer, text, **options):
    ids = tokenizer(text, return_tensors="pt").input_ids
    return tokenizer.decode(model.generate(ids, **options)[0])


def test_cli_generate_streams_greedy_text(tiny_checkpoint, checkpoint_model, gpt2_tokenizer, capsys):
    assert main(["generate", str(tiny_checkpoint), "Every effort moves you", "--max-new-tokens", "9"]) == 0
    want = expected_text(checkpoint_model, gpt2_tokenizer, "Every effort moves you", max_new_tokens=9, do_sample=False)
    assert capsys.readouterr().out == want + "\n"


def test_cli_generate_sampling_options_and_seed(tiny_checkpoint, checkpoint_model, gpt2_tokenizer, capsys):
    options = ["--top-k", "20", "--temperature", "0.9", "--repetition-penalty", "1.2", "--seed", "5", "--no-stream"]
    assert main(["generate", str(tiny_checkpoint), "Hello", "--max-new-tokens", "12", *options]) == 0
    set_seed(5)
    want = expected_text(
        checkpoint_model,
        gpt2_tokenizer,
        "Hello",
        max_new_tokens=12,
        do_sample=True,
        top_k=20,
        temperature=0.9,
        repetition_penalty=1.2,
    )
    assert capsys.readouterr().out == want + "\n"


@pytest.mark.parametrize(
    "options, expected",
    [
        ([], {}),
        (["--top-p", "0.9"], {"top_p": 0.9, "do_sample": True}),
        (["--top-k", "5", "--no-do-sample"], {"top_k": 5, "do_sample": False}),
        (["--do-sample", "--repetition-penalty", "1.1"], {"do_sample": True, "repetition_penalty": 1.1}),
        (["--crop-to-context"], {"crop_to_context": True}),
    ],
)
def test_cli_generate_passes_only_the_options_given(options, expected):
    # What is not given comes from the checkpoint's generation_config.json.
    from gpt_from_scratch.cli import build_parser
    from gpt_from_scratch.commands.generate import _generate_kwargs

    args = build_parser().parse_args(["generate", "model", "prompt", *options])
    assert _generate_kwargs(args) == expected


def test_cli_generate_refuses_what_does_not_fit_and_crops_on_request(
    tiny_checkpoint, checkpoint_model, gpt2_tokenizer, capsys
):
    argv = ["generate", str(tiny_checkpoint), "Every effort moves you", "--max-new-tokens", "70"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    last_line = err.strip().splitlines()[-1]
    assert "context_length=64" in last_line and "max_new_tokens=70" in last_line and "Traceback" not in err

    assert main([*argv, "--crop-to-context"]) == 0
    ids = gpt2_tokenizer("Every effort moves you", return_tensors="pt").input_ids
    book = generate_text_simple(checkpoint_model, ids, max_new_tokens=70, context_size=64)
    assert capsys.readouterr().out == gpt2_tokenizer.decode(book[0]) + "\n"


def test_cli_generate_missing_model_is_a_user_error(capsys):
    assert main(["generate", "./no/such/checkpoint", "Hi"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpt-from-scratch generate: error: cannot load a model from './no/such/checkpoint'")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "prompt_text, max_new_tokens, message",
    [("", 5, "prompt is empty"), ("Hi", 0, "max_new_tokens must be a positive integer, got 0")],
)
def test_generate_text_rejects_bad_requests(tiny_model, gpt2_tokenizer, prompt_text, max_new_tokens, message):
    with pytest.raises(ValueError, match=message):
        generate_text(tiny_model, gpt2_tokenizer, prompt_text, max_new_tokens=max_new_tokens)
