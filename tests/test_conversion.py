"""Weights in from the book, stock GPT-2 and nanoGPT, and out to stock GPT-2: same logits, same greedy
tokens, bit-exact round trips, and clear refusals. Every reference is independent of our model: stock
``GPT2LMHeadModel``, ``tests/book_reference.py``, and a minimal nanoGPT written out below."""

import json
import math
import os

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from transformers import AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel

from gpt_from_scratch import GPTConfig, GPTForCausalLM
from gpt_from_scratch.checkpoint import save_checkpoint
from gpt_from_scratch.cli import main
from gpt_from_scratch.conversion import (
    export_checkpoint,
    gpt2_from_gpt,
    gpt_config_from_gpt2,
    gpt_from_gpt2,
    gpt_from_nanogpt,
    import_checkpoint,
    load_book,
    load_nanogpt,
    load_torch_file,
)
from tests.book_reference import BookGPTModel
from tests.conftest import TINY_BOOK_CONFIG

VOCAB = 50257
CONTEXT = 64
NEW_TOKENS = 50

# Our tiny architectures: query/key/value biases on and off, tied and untied heads, several widths.
OUR_CONFIGS = {
    "untied-no-qkv-bias": {"emb_dim": 32, "n_heads": 4, "n_layers": 2, "qkv_bias": False, "tie_word_embeddings": False},
    "tied-qkv-bias": {"emb_dim": 48, "n_heads": 3, "n_layers": 3, "qkv_bias": True, "tie_word_embeddings": True},
    "tied-no-qkv-bias-eps": {
        "emb_dim": 16,
        "n_heads": 2,
        "n_layers": 1,
        "qkv_bias": False,
        "tie_word_embeddings": True,
        "layer_norm_epsilon": 1e-6,
    },
    "untied-qkv-bias-wide": {
        "emb_dim": 64,
        "n_heads": 8,
        "n_layers": 2,
        "qkv_bias": True,
        "tie_word_embeddings": False,
    },
}

# Stock GPT-2 architectures (tied, as OpenAI's, and untied).
GPT2_CONFIGS = {
    "tied": {"n_embd": 32, "n_head": 4, "n_layer": 2, "tie_word_embeddings": True},
    "untied": {"n_embd": 48, "n_head": 6, "n_layer": 1, "tie_word_embeddings": False},
}


@torch.no_grad()
def _perturb(model: nn.Module, scale: float = 0.05) -> nn.Module:
    # Fresh inits have unit LayerNorm scales and zero biases, which would hide swapped or dropped tensors.
    for parameter in model.parameters():
        parameter.add_(torch.randn_like(parameter) * scale)
    return model.eval()


def _logits(model: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out = model(ids)
    return out if isinstance(out, torch.Tensor) else out.logits


def _greedy(model, prompt: torch.Tensor) -> torch.Tensor:
    out = model.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=0
    )
    assert out.shape[1] == prompt.shape[1] + NEW_TOKENS
    return out


def _assert_state_dicts_equal(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for name, tensor in expected.items():
        assert tensor.dtype == actual[name].dtype, name
        assert torch.equal(tensor, actual[name]), name


def _ids(batch: int = 2, tokens: int = 12) -> torch.Tensor:
    return torch.randint(0, VOCAB, (batch, tokens), generator=torch.Generator().manual_seed(5))


# --------------------------------------------------------------------------------------------------
# Ours <-> stock GPT-2
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OUR_CONFIGS))
def test_ours_to_stock_gpt2_and_back(name):
    config = GPTConfig(vocab_size=VOCAB, context_length=CONTEXT, drop_rate=0.0, **OUR_CONFIGS[name])
    torch.manual_seed(3)
    ours = _perturb(GPTForCausalLM(config))

    stock = gpt2_from_gpt(ours)
    assert type(stock) is GPT2LMHeadModel
    assert stock.config.tie_word_embeddings == config.tie_word_embeddings
    ids = _ids()
    torch.testing.assert_close(_logits(stock, ids), _logits(ours, ids), rtol=0, atol=1e-5)
    assert torch.equal(_greedy(stock, ids[:1, :8]), _greedy(ours, ids[:1, :8]))

    # Back again: the same architecture (all-zero c_attn biases mean none) and the same bits.
    back = gpt_from_gpt2(stock)
    assert back.config.qkv_bias == config.qkv_bias
    assert back.config.tie_word_embeddings == config.tie_word_embeddings
    _assert_state_dicts_equal(ours.state_dict(), back.state_dict())

    # The stock model holds copies (even of weights that generate() stored input-major): editing or
    # training it leaves ours as it was.
    before = {name: tensor.clone() for name, tensor in ours.state_dict().items()}
    with torch.no_grad():
        for parameter in stock.parameters():
            parameter.add_(1.0)
    _assert_state_dicts_equal(ours.state_dict(), before)


@pytest.mark.parametrize("name", sorted(GPT2_CONFIGS))
def test_stock_gpt2_to_ours_and_back(name):
    torch.manual_seed(4)
    stock = _perturb(GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=CONTEXT, **GPT2_CONFIGS[name])))

    ours = gpt_from_gpt2(stock)
    assert ours.config.qkv_bias  # OpenAI's layout: c_attn has (here non-zero) biases
    assert ours.config.tie_word_embeddings == GPT2_CONFIGS[name]["tie_word_embeddings"]
    assert (ours.out_head.weight.data_ptr() == ours.tok_emb.weight.data_ptr()) == ours.config.tie_word_embeddings
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(stock, ids), rtol=0, atol=1e-5)
    assert torch.equal(_greedy(ours, ids[:1, :8]), _greedy(stock, ids[:1, :8]))

    _assert_state_dicts_equal(stock.state_dict(), gpt2_from_gpt(ours).state_dict())


def test_exported_directory_is_a_stock_gpt2_checkpoint(tmp_path):
    config = GPTConfig(vocab_size=VOCAB, context_length=CONTEXT, drop_rate=0.0, **OUR_CONFIGS["untied-no-qkv-bias"])
    torch.manual_seed(3)
    ours = _perturb(GPTForCausalLM(config))
    save_checkpoint(ours, tmp_path / "ours")

    export_checkpoint(tmp_path / "ours", tmp_path / "gpt2")
    written = json.loads((tmp_path / "gpt2" / "config.json").read_text())
    assert written["model_type"] == "gpt2" and written["architectures"] == ["GPT2LMHeadModel"]
    assert written["n_ctx"] == written["n_positions"] == CONTEXT  # llama.cpp's converter reads n_ctx
    assert written["tie_word_embeddings"] is False
    assert (tmp_path / "gpt2" / "tokenizer.json").is_file()
    stock = AutoModelForCausalLM.from_pretrained(tmp_path / "gpt2").eval()
    assert type(stock) is GPT2LMHeadModel
    ids = _ids()
    torch.testing.assert_close(_logits(stock, ids), _logits(ours, ids), rtol=0, atol=1e-5)

    import_checkpoint(tmp_path / "gpt2", tmp_path / "back", "gpt2")
    back = GPTForCausalLM.from_pretrained(tmp_path / "back")
    assert not back.config.qkv_bias and not back.config.tie_word_embeddings
    _assert_state_dicts_equal(ours.state_dict(), back.state_dict())


def test_cli_round_trip_through_gpt2_is_bit_exact(tmp_path, capsys):
    torch.manual_seed(6)
    stock = _perturb(GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB, n_positions=CONTEXT, n_embd=32, n_head=4, n_layer=2)))
    stock.save_pretrained(tmp_path / "gpt2")

    assert main(["convert", str(tmp_path / "gpt2"), str(tmp_path / "ours"), "--from", "gpt2"]) == 0
    assert "GPTForCausalLM" in capsys.readouterr().out
    assert main(["convert", str(tmp_path / "ours"), str(tmp_path / "gpt2-again"), "--to", "gpt2"]) == 0
    assert "GPT2LMHeadModel" in capsys.readouterr().out
    again = GPT2LMHeadModel.from_pretrained(tmp_path / "gpt2-again")
    assert again.lm_head.weight.data_ptr() == again.transformer.wte.weight.data_ptr()  # still tied
    _assert_state_dicts_equal(stock.state_dict(), again.state_dict())


def test_gpt2_features_the_book_lacks_are_refused():
    for change, message in (
        ({"activation_function": "relu"}, "activation_function"),
        ({"n_inner": 100}, "n_inner"),
        ({"scale_attn_by_inverse_layer_idx": True}, "scale_attn_by_inverse_layer_idx"),
        ({"scale_attn_weights": False}, "scale_attn_weights"),
        ({"add_cross_attention": True}, "add_cross_attention"),
    ):
        with pytest.raises(ValueError, match=message):
            gpt_config_from_gpt2(GPT2Config(n_embd=32, n_head=4, n_layer=1, **change))


def test_wrong_model_types_are_refused(tmp_path, tiny_checkpoint, capsys):
    GPT2Config(n_embd=32, n_head=4, n_layer=1).save_pretrained(tmp_path / "gpt2")
    assert main(["convert", str(tmp_path / "gpt2"), str(tmp_path / "out"), "--to", "gpt2"]) == 2
    assert "'gpt2' checkpoint, not a 'gpt_from_scratch' one" in capsys.readouterr().err
    assert main(["convert", str(tiny_checkpoint), str(tmp_path / "out"), "--from", "gpt2"]) == 2
    assert "'gpt_from_scratch' checkpoint, not a GPT-2" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nowhere"), str(tmp_path / "out"), "--from", "gpt2"]) == 2
    assert "nowhere: no such checkpoint directory" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_argument_errors(tmp_path, tiny_checkpoint, capsys):
    with pytest.raises(SystemExit) as exit_info:  # neither --from nor --to
        main(["convert", str(tiny_checkpoint), str(tmp_path / "out")])
    assert exit_info.value.code == 2
    assert main(["convert", str(tiny_checkpoint), str(tmp_path / "out"), "--to", "gpt2", "--preset", "tiny"]) == 2
    assert "--config/--preset apply to --from book only" in capsys.readouterr().err
    assert main(["convert", str(tiny_checkpoint), str(tmp_path / "out"), "--from", "gpt2", "--preset", "tiny"]) == 2
    assert "--config/--preset apply to book only" in capsys.readouterr().err
    assert main(["convert", str(tiny_checkpoint), str(tiny_checkpoint), "--to", "gpt2"]) == 2
    assert "OUT must differ from SRC" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "model.pth"), str(tmp_path / "out"), "--from", "book"]) == 2
    assert "carry no config" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# The book
# --------------------------------------------------------------------------------------------------


def _book_file(tmp_path, cfg: dict, *, with_optimizer: bool = False, dtype=torch.float32):
    torch.manual_seed(7)
    book = _perturb(BookGPTModel(cfg)).to(dtype)
    path = tmp_path / ("model_and_optimizer.pth" if with_optimizer else "model.pth")
    if with_optimizer:
        optimizer = torch.optim.AdamW(book.parameters(), lr=4e-4, weight_decay=0.1)
        book.train()
        book(_ids(1, 8)).sum().backward()
        optimizer.step()
        book.eval()
        torch.save({"model_state_dict": book.state_dict(), "optimizer_state_dict": optimizer.state_dict()}, path)
    else:
        torch.save(book.state_dict(), path)
    return book, path


def test_book_state_dict_converts_with_a_config_file(tmp_path):
    book, path = _book_file(tmp_path, TINY_BOOK_CONFIG)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(TINY_BOOK_CONFIG))

    assert main(["convert", str(path), str(tmp_path / "out"), "--from", "book", "--config", str(config_file)]) == 0
    ours = GPTForCausalLM.from_pretrained(tmp_path / "out").eval()
    assert not ours.config.tie_word_embeddings  # the book keeps out_head apart from tok_emb
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(book, ids), rtol=0, atol=1e-5)


def test_book_state_dict_with_qkv_bias(tmp_path):
    # The book's models loaded with OpenAI's weights (ch. 5) have query/key/value biases.
    cfg = {**TINY_BOOK_CONFIG, "qkv_bias": True}
    book, path = _book_file(tmp_path, cfg)
    ours = load_book(path, GPTConfig(**cfg))
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(book, ids), rtol=0, atol=1e-5)


def test_book_model_and_optimizer_file_converts_with_a_preset(tmp_path):
    from gpt_from_scratch import PRESETS

    book, path = _book_file(tmp_path, PRESETS["tiny"], with_optimizer=True)
    assert main(["convert", str(path), str(tmp_path / "out"), "--from", "book", "--preset", "tiny"]) == 0
    ours = GPTForCausalLM.from_pretrained(tmp_path / "out").eval()
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(book, ids), rtol=0, atol=1e-5)


def test_book_dtype_is_kept(tmp_path):
    book, path = _book_file(tmp_path, TINY_BOOK_CONFIG, dtype=torch.bfloat16)
    model = load_book(path, GPTConfig(**TINY_BOOK_CONFIG))
    assert model.dtype == torch.bfloat16
    _assert_state_dicts_equal(
        {k: v for k, v in book.state_dict().items() if not k.endswith("att.mask")}, model.state_dict()
    )


def test_config_mismatch_names_the_tensor_and_both_shapes(tmp_path, capsys):
    _, path = _book_file(tmp_path, TINY_BOOK_CONFIG)  # emb_dim 32
    with pytest.raises(
        ValueError, match=r"tok_emb\.weight has shape \(50257, 32\) in .* but the config needs \(50257, 64\)"
    ):
        import_checkpoint(path, tmp_path / "out", "book", config=GPTConfig.from_preset("tiny"))
    assert main(["convert", str(path), str(tmp_path / "out"), "--from", "book", "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "tok_emb.weight" in err and "(50257, 32)" in err and "(50257, 64)" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()

    with pytest.raises(ValueError, match=r"lacks 6 tensors \(trf_blocks\.0\.att\.W_query\.bias.*check qkv_bias"):
        load_book(path, GPTConfig(**{**TINY_BOOK_CONFIG, "qkv_bias": True}))
    (tmp_path / "with-bias").mkdir()
    _, path = _book_file(tmp_path / "with-bias", {**TINY_BOOK_CONFIG, "qkv_bias": True})
    with pytest.raises(ValueError, match=r"has 6 tensors \(trf_blocks\.0\.att\.W_query\.bias.*check qkv_bias"):
        load_book(path, GPTConfig(**TINY_BOOK_CONFIG))


def test_book_config_file_errors(tmp_path, capsys):
    _, path = _book_file(tmp_path, TINY_BOOK_CONFIG)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**TINY_BOOK_CONFIG, "emb_size": 32}))
    assert main(["convert", str(path), str(tmp_path / "out"), "--from", "book", "--config", str(bad)]) == 2
    assert "unknown keys ['emb_size']" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# Pickles that carry code are refused, and nothing in them runs
# --------------------------------------------------------------------------------------------------


class _MakesADirectory:
    """Unpickling this would create ``path``: harmless, but observable."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_pickles_with_code_are_refused_unrun(tmp_path, capsys):
    marker = tmp_path / "code-ran"
    payload = {"tok_emb.weight": torch.zeros(2), "evil": _MakesADirectory(marker)}
    torch.save(payload, tmp_path / "model.pth")
    torch.save({"model_args": {}, "model": payload}, tmp_path / "ckpt.pt")
    GPT2Config(n_embd=32, n_head=4, n_layer=1).save_pretrained(tmp_path / "gpt2")
    torch.save(payload, tmp_path / "gpt2" / "pytorch_model.bin")

    with pytest.raises(ValueError, match=r"holds pickled Python objects.*refused unread.*posix\.mkdir"):
        load_torch_file(tmp_path / "model.pth")
    for argv in (
        [str(tmp_path / "model.pth"), "--from", "book", "--preset", "tiny"],
        [str(tmp_path / "ckpt.pt"), "--from", "nanogpt"],
        [str(tmp_path), "--from", "nanogpt"],  # the directory holding ckpt.pt
        [str(tmp_path / "gpt2"), "--from", "gpt2"],
    ):
        assert main(["convert", argv[0], str(tmp_path / "out"), *argv[1:]]) == 2
        assert "refused unread" in capsys.readouterr().err
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a PyTorch checkpoint"):
        load_torch_file(tmp_path / "notes.pth")
    with pytest.raises(FileNotFoundError):
        load_torch_file(tmp_path / "missing.pth")
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="neither a state dict"):
        load_book(tmp_path / "list.pth", GPTConfig(**TINY_BOOK_CONFIG))


# --------------------------------------------------------------------------------------------------
# nanoGPT, written out independently (karpathy/nanoGPT model.py, minus training helpers)
# --------------------------------------------------------------------------------------------------


class NanoLayerNorm(nn.Module):
    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class NanoCausalSelfAttention(nn.Module):
    def __init__(self, args, flash):
        super().__init__()
        self.c_attn = nn.Linear(args["n_embd"], 3 * args["n_embd"], bias=args["bias"])
        self.c_proj = nn.Linear(args["n_embd"], args["n_embd"], bias=args["bias"])
        self.n_head, self.n_embd, self.flash = args["n_head"], args["n_embd"], flash
        if not flash:
            size = args["block_size"]
            self.register_buffer("bias", torch.tril(torch.ones(size, size)).view(1, 1, size, size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class NanoMLP(nn.Module):
    def __init__(self, args, gelu_approximate):
        super().__init__()
        self.c_fc = nn.Linear(args["n_embd"], 4 * args["n_embd"], bias=args["bias"])
        self.gelu = nn.GELU(approximate=gelu_approximate)  # nanoGPT: nn.GELU(), i.e. "none"
        self.c_proj = nn.Linear(4 * args["n_embd"], args["n_embd"], bias=args["bias"])

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class NanoBlock(nn.Module):
    def __init__(self, args, flash, gelu_approximate):
        super().__init__()
        self.ln_1 = NanoLayerNorm(args["n_embd"], bias=args["bias"])
        self.attn = NanoCausalSelfAttention(args, flash)
        self.ln_2 = NanoLayerNorm(args["n_embd"], bias=args["bias"])
        self.mlp = NanoMLP(args, gelu_approximate)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class NanoGPT(nn.Module):
    def __init__(self, args, flash=False, gelu_approximate="none"):
        super().__init__()
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(args["vocab_size"], args["n_embd"]),
                "wpe": nn.Embedding(args["block_size"], args["n_embd"]),
                "h": nn.ModuleList([NanoBlock(args, flash, gelu_approximate) for _ in range(args["n_layer"])]),
                "ln_f": NanoLayerNorm(args["n_embd"], bias=args["bias"]),
            }
        )
        self.lm_head = nn.Linear(args["n_embd"], args["vocab_size"], bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))

    @torch.no_grad()
    def greedy(self, idx, max_new_tokens):
        for _ in range(max_new_tokens):
            idx = torch.cat([idx, self(idx)[:, -1].argmax(-1, keepdim=True)], dim=1)
        return idx


def _nanogpt_checkpoint(path, args, *, flash=False, compiled=False, gelu_approximate="none"):
    """Save a ckpt.pt the way nanoGPT's train.py does; return the reference model."""
    torch.manual_seed(8)
    model = _perturb(NanoGPT(args, flash=flash, gelu_approximate=gelu_approximate))
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4, betas=(0.9, 0.95))
    state_dict = model.state_dict()
    if compiled:  # train.py saves the compiled wrapper's state dict
        state_dict = {f"_orig_mod.{key}": value for key, value in state_dict.items()}
    checkpoint = {
        "model": state_dict,
        "optimizer": optimizer.state_dict(),
        "model_args": args,
        "iter_num": 2000,
        "best_val_loss": torch.tensor(3.21),
        "config": {"dataset": "openwebtext", "batch_size": 12, "learning_rate": 6e-4, "compile": compiled},
    }
    torch.save(checkpoint, path)
    return model


def _nano_args(bias, n_embd=32, n_head=4, n_layer=2, vocab_size=50304):
    # 50304: nanoGPT pads GPT-2's vocabulary to a multiple of 64.
    return {
        "n_layer": n_layer,
        "n_head": n_head,
        "n_embd": n_embd,
        "block_size": CONTEXT,
        "bias": bias,
        "vocab_size": vocab_size,
        "dropout": 0.0,
    }


@pytest.mark.parametrize(
    "bias,flash,compiled",
    [(True, False, False), (False, False, True), (True, True, True), (False, True, False)],
)
def test_nanogpt_imports_exactly(tmp_path, bias, flash, compiled):
    # nanoGPT's own maths (exact erf GELU, Linear weights, optional biases): logits and greedy ids match.
    args = _nano_args(bias)
    nano = _nanogpt_checkpoint(tmp_path / "ckpt.pt", args, flash=flash, compiled=compiled)
    ours = load_nanogpt(tmp_path / "ckpt.pt")
    assert ours.config.qkv_bias == bias and ours.config.tie_word_embeddings and ours.config.vocab_size == 50304
    assert ours.config.gelu_approximate == "none"

    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(nano, ids), rtol=0, atol=1e-5)
    assert torch.equal(_greedy(ours, ids[:1, :8]), nano.greedy(ids[:1, :8], NEW_TOKENS))


def test_nanogpt_through_the_cli_then_to_stock_gpt2(tmp_path):
    args = _nano_args(True, n_embd=48, n_head=6)
    nano = _nanogpt_checkpoint(tmp_path / "ckpt.pt", args)
    assert main(["convert", str(tmp_path), str(tmp_path / "out"), "--from", "nanogpt"]) == 0
    assert main(["convert", str(tmp_path / "out"), str(tmp_path / "gpt2"), "--to", "gpt2"]) == 0
    ours = GPTForCausalLM.from_pretrained(tmp_path / "out").eval()
    stock = GPT2LMHeadModel.from_pretrained(tmp_path / "gpt2").eval()
    assert stock.config.activation_function == "gelu"  # exact GELU survives the export
    ids = _ids()
    expected = _logits(nano, ids)
    torch.testing.assert_close(_logits(ours, ids), expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(_logits(stock, ids), expected, rtol=0, atol=1e-5)


def test_untied_nanogpt_head_stays_untied(tmp_path):
    args = _nano_args(True)
    torch.manual_seed(9)
    nano = NanoGPT(args)
    nano.lm_head.weight = nn.Parameter(torch.randn(args["vocab_size"], args["n_embd"]) * 0.02)
    _perturb(nano)
    ours = gpt_from_nanogpt({"model_args": args, "model": nano.state_dict()})
    assert not ours.config.tie_word_embeddings
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(nano, ids), rtol=0, atol=1e-5)


def test_nanogpt_errors_are_clear(tmp_path):
    args = _nano_args(False)
    state_dict = NanoGPT(args).state_dict()
    with pytest.raises(ValueError, match=r"model_args has keys \['use_rmsnorm'\]"):
        gpt_from_nanogpt({"model_args": {**args, "use_rmsnorm": True}, "model": state_dict})
    with pytest.raises(ValueError, match="vocab_size=65 is smaller than GPT-2's 50257"):
        gpt_from_nanogpt({"model_args": {**args, "vocab_size": 65}, "model": state_dict})
    with pytest.raises(ValueError, match=r"transformer\.wte\.weight has shape \(50304, 32\) .* needs \(50304, 64\)"):
        gpt_from_nanogpt({"model_args": {**args, "n_embd": 64}, "model": state_dict})
    with pytest.raises(ValueError, match="lacks 13 tensors"):
        gpt_from_nanogpt({"model_args": {**args, "bias": True}, "model": state_dict})
    with pytest.raises(ValueError, match="'model_args' and 'model'"):
        gpt_from_nanogpt({"model": state_dict})
