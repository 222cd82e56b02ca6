"""Property tests over random tiny configs, lengths and paddings (bounded so the suite stays fast)."""

import tempfile

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import DynamicCache

from gpt_from_scratch import GPTConfig, GPTForCausalLM

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def models(draw):
    n_heads = draw(st.integers(1, 4))
    config = GPTConfig(
        vocab_size=draw(st.integers(5, 120)),
        context_length=draw(st.integers(4, 24)),
        emb_dim=n_heads * draw(st.integers(1, 8)),
        n_heads=n_heads,
        n_layers=draw(st.integers(1, 3)),
        drop_rate=0.0,
        qkv_bias=draw(st.booleans()),
        init_scheme=draw(st.sampled_from(["book", "gpt2"])),
        bos_token_id=None,
        eos_token_id=None,
    )
    config._attn_implementation = draw(st.sampled_from(["sdpa", "eager"]))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    return GPTForCausalLM(config).eval()


def _ids(data, model, batch, length):
    values = data.draw(st.lists(st.integers(0, model.config.vocab_size - 1), min_size=batch * length, max_size=batch * length))
    return torch.tensor(values).view(batch, length)


@SETTINGS
@given(model=models(), data=st.data())
def test_causality(model, data):
    length = data.draw(st.integers(2, model.config.context_length))
    t = data.draw(st.integers(0, length - 2))
    ids = _ids(data, model, 2, length)
    changed = ids.clone()
    changed[:, t + 1 :] = (changed[:, t + 1 :] + 1) % model.config.vocab_size
    with torch.no_grad():
        a = model(input_ids=ids).logits[:, : t + 1]
        b = model(input_ids=changed).logits[:, : t + 1]
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@SETTINGS
@given(model=models(), data=st.data())
def test_cache_equals_no_cache(model, data):
    length = data.draw(st.integers(2, model.config.context_length))
    split = data.draw(st.integers(1, length - 1))
    ids = _ids(data, model, 2, length)
    with torch.no_grad():
        full = model(input_ids=ids, use_cache=False).logits
        cache = DynamicCache(config=model.config)
        first = model(input_ids=ids[:, :split], cache=cache, use_cache=True)
        steps = [first.logits]
        for position in range(split, length):
            steps.append(model(input_ids=ids[:, position : position + 1], cache=first.cache, use_cache=True).logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


@SETTINGS
@given(model=models(), data=st.data())
def test_left_padding_does_not_change_real_positions(model, data):
    length = data.draw(st.integers(1, model.config.context_length - 1))
    pad = data.draw(st.integers(1, model.config.context_length - length))
    ids = _ids(data, model, 1, length)
    padding = _ids(data, model, 1, pad)
    padded = torch.cat([padding, ids], dim=1)
    mask = torch.cat([torch.zeros(1, pad, dtype=torch.long), torch.ones(1, length, dtype=torch.long)], dim=1)
    with torch.no_grad():
        alone = model(input_ids=ids).logits
        in_batch = model(input_ids=padded, attention_mask=mask).logits[:, pad:]
    torch.testing.assert_close(in_batch, alone, atol=1e-5, rtol=1e-5)


@settings(max_examples=5, deadline=None)
@given(model=models())
def test_save_load_identity(model):
    with tempfile.TemporaryDirectory() as directory:
        model.save_pretrained(directory)
        loaded = GPTForCausalLM.from_pretrained(directory)
    for key in ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers", "qkv_bias", "init_scheme"):
        assert getattr(loaded.config, key) == getattr(model.config, key)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
