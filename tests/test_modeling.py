"""The HF face against stock transformers GPT-2 on the same weights, and the library features."""

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from gpt_from_scratch import GPTBaseModel, GPTConfig, GPTForCausalLM
from tests.conftest import TINY_BOOK_CONFIG, stock_gpt2_twin


@pytest.fixture
def ids():
    return torch.randint(0, TINY_BOOK_CONFIG["vocab_size"], (3, 21))


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_logits_hidden_states_and_loss_match_stock_gpt2(qkv_bias, ids):
    model = GPTForCausalLM(GPTConfig(**{**TINY_BOOK_CONFIG, "qkv_bias": qkv_bias})).eval()
    twin = stock_gpt2_twin(model)
    labels = ids.clone()
    labels[0, :5] = -100
    with torch.no_grad():
        ours = model(input_ids=ids, labels=labels, output_hidden_states=True)
        theirs = twin(input_ids=ids, labels=labels, output_hidden_states=True)
    assert isinstance(ours, CausalLMOutputWithPast)
    torch.testing.assert_close(ours.logits, theirs.logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours.loss, theirs.loss, atol=1e-6, rtol=1e-6)
    assert len(ours.hidden_states) == len(theirs.hidden_states) == TINY_BOOK_CONFIG["n_layers"] + 1
    for a, b in zip(ours.hidden_states, theirs.hidden_states):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_loss_is_shifted_cross_entropy_with_ignore_index_and_num_items(tiny_model, ids):
    labels = ids.clone()
    labels[1, 10:] = -100
    with torch.no_grad():
        out = tiny_model(input_ids=ids, labels=labels)
        logits = out.logits
    # A plain PyTorch computation of the shifted loss.
    per_token = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100, reduction="none"
    )
    valid = (labels[:, 1:] != -100).sum()
    torch.testing.assert_close(out.loss, per_token.sum() / valid)
    # With num_items_in_batch (gradient accumulation), the sum is divided by that count instead.
    with torch.no_grad():
        summed = tiny_model(input_ids=ids, labels=labels, num_items_in_batch=torch.tensor(100)).loss
    torch.testing.assert_close(summed, per_token.sum() / 100)


def test_attention_backends_agree_and_eager_returns_attentions(tiny_checkpoint, ids):
    sdpa = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, attn_implementation="sdpa").eval()
    eager = AutoModelForCausalLM.from_pretrained(tiny_checkpoint, attn_implementation="eager").eval()
    assert sdpa.config._attn_implementation == "sdpa" and eager.config._attn_implementation == "eager"
    with torch.no_grad():
        a = sdpa(input_ids=ids).logits
        b = eager(input_ids=ids, output_attentions=True)
    torch.testing.assert_close(a, b.logits, atol=1e-5, rtol=1e-5)
    assert len(b.attentions) == eager.config.n_layers
    assert b.attentions[0].shape == (3, eager.config.n_heads, 21, 21)
    # Causal: no weight above the diagonal, rows sum to one.
    assert torch.all(b.attentions[0].triu(diagonal=1) == 0)
    torch.testing.assert_close(b.attentions[0].sum(-1), torch.ones(3, eager.config.n_heads, 21))


def test_return_dict_false_gives_a_tuple(tiny_model, ids):
    with torch.no_grad():
        loss, logits = tiny_model(input_ids=ids, labels=ids, use_cache=False, return_dict=False)[:2]
        reference = tiny_model(input_ids=ids, labels=ids, use_cache=False)
    torch.testing.assert_close(loss, reference.loss)
    torch.testing.assert_close(logits, reference.logits)


def test_embedding_accessors_and_resize(tiny_model, ids):
    assert tiny_model.get_input_embeddings() is tiny_model.tok_emb
    assert tiny_model.get_output_embeddings() is tiny_model.out_head
    with torch.no_grad():
        before = tiny_model(input_ids=ids).logits
    tiny_model.resize_token_embeddings(50260, mean_resizing=False)
    assert tiny_model.tok_emb.weight.shape[0] == tiny_model.out_head.weight.shape[0] == 50260
    assert tiny_model.config.vocab_size == 50260
    with torch.no_grad():
        after = tiny_model(input_ids=ids).logits
    torch.testing.assert_close(after[..., :50257], before)


def test_tied_embeddings_share_one_tensor():
    model = GPTForCausalLM(GPTConfig(**TINY_BOOK_CONFIG, tie_word_embeddings=True))
    assert model.out_head.weight is model.tok_emb.weight


def test_auto_classes_are_registered(tiny_checkpoint):
    config = AutoConfig.from_pretrained(tiny_checkpoint)
    assert isinstance(config, GPTConfig)
    assert isinstance(AutoModelForCausalLM.from_config(config), GPTForCausalLM)
    base = AutoModel.from_pretrained(tiny_checkpoint)
    assert type(base) is GPTBaseModel
    with torch.no_grad():
        out = base(input_ids=torch.tensor([[1, 2, 3]]))
    assert isinstance(out, BaseModelOutputWithPast)
    assert out.last_hidden_state.shape == (1, 3, config.hidden_size)


def test_gpt2_init_scheme_statistics():
    config = GPTConfig(**{**TINY_BOOK_CONFIG, "emb_dim": 128, "n_layers": 8, "init_scheme": "gpt2"})
    model = GPTForCausalLM(config)
    block = model.trf_blocks[0]
    assert abs(model.tok_emb.weight.std().item() - 0.02) < 1e-3
    assert abs(block.att.W_query.weight.std().item() - 0.02) < 2e-3
    residual_std = 0.02 / (2 * config.n_layers) ** 0.5
    assert abs(block.att.out_proj.weight.std().item() - residual_std) < 1e-3
    assert abs(block.ff.layers[2].weight.std().item() - residual_std) < 1e-3
    assert torch.all(block.att.out_proj.bias == 0)
    # The book's scheme is PyTorch's: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) for Linear, N(0, 1) for Embedding.
    book = GPTForCausalLM(GPTConfig(**{**TINY_BOOK_CONFIG, "emb_dim": 128}))
    bound = 128**-0.5
    assert book.trf_blocks[0].att.W_query.weight.abs().max() <= bound
    assert abs(book.tok_emb.weight.std().item() - 1.0) < 0.01


def test_gradient_checkpointing_gives_the_same_gradients(ids):
    model = GPTForCausalLM(GPTConfig(**TINY_BOOK_CONFIG)).train()
    model(input_ids=ids, labels=ids).loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    model.activation_checkpointing_enable()
    model(input_ids=ids, labels=ids, use_cache=False).loss.backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], atol=1e-6, rtol=1e-5, msg=name)
