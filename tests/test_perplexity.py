"""Sliding-window perplexity: exact against brute force and stock GPT-2, the evaluate module and the CLI."""

import json
import math
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F
from transformers import AutoModelForCausalLM, BertConfig, BertModel

from gpt_from_scratch import GPTBaseModel, GPTConfig, GPTForCausalLM
from gpt_from_scratch.checkpoint import save_checkpoint
from gpt_from_scratch.cli import main
from gpt_from_scratch.metrics import metric_path
from gpt_from_scratch.perplexity import compute_perplexity, score_tokens, sliding_windows
from gpt_from_scratch.tokenization import save_tokenizer
from tests.conftest import TINY_BOOK_CONFIG, stock_gpt2_twin

ROOT = Path(__file__).resolve().parents[1]

DOCUMENTS = [
    "I had always thought Jack Gisburn rather a cheap genius, though a good fellow enough.",
    "",
    (
        "It was no great surprise to me to hear that, in the height of his glory, he had dropped his painting, "
        "married a rich widow, and established himself in a villa on the Riviera."
    ),
    "Naïve café prices — 東京 🙂 and more: the bytes of non-ASCII text count too.",
    "Short.",
]


def brute_force_nll(model, ids: list[int], context: int) -> list[float]:
    """NLL of each token after the first, one forward per token over at most ``context`` previous tokens."""
    nll = []
    with torch.no_grad():
        for i in range(1, len(ids)):
            prefix = torch.tensor([ids[max(0, i - context) : i]])
            logits = model(input_ids=prefix).logits[0, -1]
            nll.append(-F.log_softmax(logits.double(), dim=-1)[ids[i]].item())
    return nll


def guide_sliding_window(model, ids: list[int], max_length: int, stride: int) -> tuple[float, int, int]:
    """The transformers guide's loop, written against the model's own ``labels`` loss, with the exact count.

    Returns the total NLL, the exact number of tokens scored and the guide's ``num_valid_tokens - batch_size`` count.
    """
    encodings = torch.tensor([ids])
    total, exact_count, guide_count, prev_end = 0.0, 0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + max_length, len(ids))
        trg_len = end - prev_end
        input_ids = encodings[:, begin:end]
        target_ids = input_ids.clone()
        target_ids[:, :-trg_len] = -100
        with torch.no_grad():
            loss = model(input_ids=input_ids, labels=target_ids).loss
        scored = int((target_ids[:, 1:] != -100).sum())  # the model shifts the labels
        total += loss.item() * scored
        exact_count += scored
        guide_count += int((target_ids != -100).sum()) - target_ids.size(0)
        prev_end = end
        if end == len(ids):
            break
    return total, exact_count, guide_count


@pytest.fixture(scope="module")
def long_text():
    return "\n\n".join(DOCUMENTS * 2)


# --- windows ---------------------------------------------------------------------------------------


def test_sliding_windows_layout():
    assert [(w.begin, w.end, w.first_scored) for w in sliding_windows([10], 4, 2)] == [
        (0, 4, 1),
        (2, 6, 4),
        (4, 8, 6),
        (6, 10, 8),
    ]
    # stride == max_length: non-overlapping chunks; a chunk's first token has no context.
    assert [(w.begin, w.end, w.first_scored) for w in sliding_windows([10], 4, 4)] == [(0, 4, 1), (4, 8, 5), (8, 10, 9)]
    assert [(w.sequence, w.begin, w.end) for w in sliding_windows([1, 0, 3], 4, 2)] == [(2, 0, 3)]


@settings(max_examples=200, deadline=None)
@given(length=st.integers(0, 60), max_length=st.integers(2, 20), data=st.data())
def test_every_token_after_the_first_is_scored_once_with_enough_context(length, max_length, data):
    stride = data.draw(st.integers(1, max_length - 1))
    seen = []
    for window in sliding_windows([length], max_length, stride):
        assert window.end - window.begin <= max_length
        for position in range(window.first_scored, window.end):
            seen.append(position)
            assert position - window.begin >= min(position, max_length - stride)
    assert sorted(seen) == list(range(1, length))


@pytest.mark.parametrize(("max_length", "stride"), [(1, 1), (8, 0), (8, 9), (8, 2.0)])
def test_bad_windows_are_refused(max_length, stride):
    with pytest.raises((ValueError, TypeError), match="max_length|stride"):
        sliding_windows([10], max_length, stride)


# --- exactness --------------------------------------------------------------------------------------


def test_one_window_equals_brute_force_token_by_token(tiny_model, gpt2_tokenizer):
    text = DOCUMENTS[0]
    ids = gpt2_tokenizer(text)["input_ids"]
    assert 2 < len(ids) < TINY_BOOK_CONFIG["context_length"]
    expected = brute_force_nll(tiny_model, ids, context=len(ids))
    result = compute_perplexity(tiny_model, gpt2_tokenizer, text)
    assert result.tokens == len(ids) - 1
    assert result.total_nll == pytest.approx(sum(expected), rel=1e-6)
    assert result.perplexity == pytest.approx(math.exp(sum(expected) / len(expected)), rel=1e-6)


def test_stride_one_equals_brute_force_with_the_longest_context(tiny_model, gpt2_tokenizer):
    ids = gpt2_tokenizer(DOCUMENTS[0])["input_ids"]
    max_length = 6
    expected = brute_force_nll(tiny_model, ids, context=max_length - 1)
    (scores,) = score_tokens(tiny_model, [ids], max_length=max_length, stride=1, batch_size=5)
    assert not scores.scored[0] and scores.scored[1:].all()
    torch.testing.assert_close(scores.nll[1:], torch.tensor(expected, dtype=torch.float64), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("max_length", "stride"), [(32, 12), (16, 15), (20, 20)])
def test_equals_the_same_method_on_stock_gpt2(tiny_model, gpt2_tokenizer, long_text, max_length, stride):
    twin = stock_gpt2_twin(tiny_model)
    ids = gpt2_tokenizer(long_text)["input_ids"]
    total, exact_count, guide_count = guide_sliding_window(twin, ids, max_length, stride)

    result = compute_perplexity(
        tiny_model, gpt2_tokenizer, long_text, max_length=max_length, stride=stride, batch_size=3
    )
    assert result.tokens == exact_count
    assert result.total_nll == pytest.approx(total, rel=1e-6)
    assert result.loss == pytest.approx(total / exact_count, rel=1e-6)
    # Any causal LM: stock GPT-2 through the same function gives the same figures.
    on_twin = compute_perplexity(twin, gpt2_tokenizer, long_text, max_length=max_length, stride=stride, batch_size=3)
    assert on_twin.tokens == result.tokens
    assert on_twin.total_nll == pytest.approx(result.total_nll, rel=1e-6)
    if stride < max_length:
        assert exact_count == len(ids) - 1
        # The guide subtracts one token per window, but only the first window loses one to the shift.
        assert guide_count == exact_count - (result.windows - 1)
    else:
        assert exact_count == len(ids) - result.windows


def test_stride_equal_to_max_length_is_the_non_overlapping_average(tiny_model, gpt2_tokenizer, long_text):
    ids = torch.tensor(gpt2_tokenizer(long_text)["input_ids"])
    max_length = 24
    total, count = 0.0, 0
    with torch.no_grad():
        for chunk in ids.split(max_length):
            if len(chunk) > 1:
                total += tiny_model(input_ids=chunk[None], labels=chunk[None]).loss.item() * (len(chunk) - 1)
                count += len(chunk) - 1
    result = compute_perplexity(tiny_model, gpt2_tokenizer, long_text, max_length=max_length, stride=max_length)
    assert result.tokens == count
    assert result.loss == pytest.approx(total / count, rel=1e-6)


class PeriodOracle(torch.nn.Module):
    """A fixed causal LM that knows the text repeats every ``period`` tokens: it predicts the token
    ``period`` positions back when its window holds it, and is uniform otherwise. Context only helps it."""

    def __init__(self, vocab_size: int, period: int):
        super().__init__()
        self.vocab_size, self.period = vocab_size, period
        self.scale = torch.nn.Parameter(torch.tensor(6.0))

    def forward(self, input_ids, attention_mask=None):
        logits = torch.zeros(*input_ids.shape, self.vocab_size)
        # Position p predicts token p + 1, which repeats token p + 1 - period.
        seen = input_ids[:, : input_ids.shape[1] - self.period + 1]
        logits[:, self.period - 1 :] = self.scale * F.one_hot(seen, self.vocab_size)
        return SimpleNamespace(logits=logits)


def test_smaller_strides_do_not_raise_perplexity(tiny_model):
    period, max_length = 5, 8
    sequence = torch.randint(0, 10, (period,)).repeat(12)
    oracle = PeriodOracle(vocab_size=10, period=period)

    def perplexity(model, ids, stride):
        (scores,) = score_tokens(model, [ids], max_length=max_length, stride=stride, batch_size=64)
        return math.exp(float(scores.nll[scores.scored].mean()))

    by_stride = {stride: perplexity(oracle, sequence, stride) for stride in range(1, max_length + 1)}
    for stride in range(1, max_length):
        assert by_stride[stride] <= by_stride[stride + 1] * (1 + 1e-9), by_stride
    # Windows overlapping by a period or more give every token after the first period its clue.
    assert by_stride[1] == by_stride[max_length - period] < by_stride[max_length - period + 1] < by_stride[max_length]
    # On our (random) model, more context does not raise perplexity beyond noise either.
    ids = torch.randint(0, TINY_BOOK_CONFIG["vocab_size"], (60,))
    assert perplexity(tiny_model, ids, 1) <= perplexity(tiny_model, ids, max_length) * 1.01


@pytest.mark.parametrize("per_document", [False, True])
def test_batched_windows_equal_unbatched(tiny_model, gpt2_tokenizer, per_document):
    kwargs = {"max_length": 16, "stride": 5, "per_document": per_document}
    one = compute_perplexity(tiny_model, gpt2_tokenizer, DOCUMENTS, batch_size=1, **kwargs)
    # Per document the windows have unequal lengths, so batches are padded.
    lengths = {
        w.end - w.begin for w in sliding_windows([len(gpt2_tokenizer(d)["input_ids"]) for d in DOCUMENTS], 16, 5)
    }
    assert not per_document or len(lengths) > 1
    for batch_size in (3, 64):
        many = compute_perplexity(tiny_model, gpt2_tokenizer, DOCUMENTS, batch_size=batch_size, **kwargs)
        assert (many.tokens, many.windows, many.bytes) == (one.tokens, one.windows, one.bytes)
        assert many.total_nll == pytest.approx(one.total_nll, rel=1e-6)


def test_model_left_in_training_mode_is_scored_without_dropout(gpt2_tokenizer):
    model = GPTForCausalLM(GPTConfig(**{**TINY_BOOK_CONFIG, "drop_rate": 0.5}))
    first = compute_perplexity(model.train(), gpt2_tokenizer, DOCUMENTS[0])
    second = compute_perplexity(model, gpt2_tokenizer, DOCUMENTS[0])
    assert first.total_nll == second.total_nll
    assert model.training


# --- bytes, words, documents -------------------------------------------------------------------------


def test_bits_per_byte_counts_the_bytes_of_the_scored_tokens(tiny_model, gpt2_tokenizer, encoding):
    text = "\n\n".join(DOCUMENTS)
    ids = encoding.encode(text)
    assert ids == gpt2_tokenizer(text)["input_ids"]
    result = compute_perplexity(tiny_model, gpt2_tokenizer, text, max_length=16, stride=7)
    # GPT-2's tokens are byte strings: the scored ones (all but the first) hold exactly the scored bytes.
    assert result.bytes == sum(len(encoding.decode_single_token_bytes(i)) for i in ids[1:])
    assert result.bytes == len(text.encode()) - len(encoding.decode_single_token_bytes(ids[0]))
    assert result.bits_per_byte == pytest.approx(result.total_nll / math.log(2) / result.bytes, rel=1e-12)
    # The first word ("I") is the unscored first token.
    assert result.words == len(text.split()) - 1
    assert result.word_perplexity == pytest.approx(math.exp(result.total_nll / result.words), rel=1e-12)


def test_start_token_scores_every_token_and_byte(tiny_model, gpt2_tokenizer):
    text = DOCUMENTS[3]
    ids = gpt2_tokenizer(text)["input_ids"]
    result = compute_perplexity(tiny_model, gpt2_tokenizer, text, add_start_token=True)
    with_bos = torch.tensor([[gpt2_tokenizer.bos_token_id, *ids]])
    with torch.no_grad():
        expected = tiny_model(input_ids=with_bos, labels=with_bos).loss.item() * len(ids)
    assert result.tokens == len(ids)
    assert result.total_nll == pytest.approx(expected, rel=1e-6)
    assert (result.bytes, result.words) == (len(text.encode()), len(text.split()))


def test_per_document_scores_each_text_on_its_own(tiny_model, gpt2_tokenizer):
    result = compute_perplexity(tiny_model, gpt2_tokenizer, DOCUMENTS, per_document=True, max_length=64)
    separately = [compute_perplexity(tiny_model, gpt2_tokenizer, d) for d in DOCUMENTS if d]
    assert result.sequences == len(separately)  # the empty document has nothing to score
    assert result.tokens == sum(r.tokens for r in separately)
    assert result.bytes == sum(r.bytes for r in separately)
    assert result.total_nll == pytest.approx(sum(r.total_nll for r in separately), rel=1e-6)


def test_text_shorter_than_a_window_is_scored_and_one_token_is_refused(tiny_model, gpt2_tokenizer):
    result = compute_perplexity(tiny_model, gpt2_tokenizer, "Short text.", max_length=64)
    assert (result.tokens, result.windows) == (2, 1)
    with pytest.raises(ValueError, match="at least 2"):
        compute_perplexity(tiny_model, gpt2_tokenizer, "Short")
    with pytest.raises(ValueError, match="no text has 1 token"):
        compute_perplexity(tiny_model, gpt2_tokenizer, ["Short", "Hi"], per_document=True)
    with pytest.raises(ValueError, match="empty"):
        compute_perplexity(tiny_model, gpt2_tokenizer, ["", " "])
    with pytest.raises(ValueError, match="exceeds the model's 64 positions"):
        compute_perplexity(tiny_model, gpt2_tokenizer, DOCUMENTS, max_length=65)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        compute_perplexity(tiny_model, gpt2_tokenizer, ["a b", None])


# --- loading, the evaluate module, the CLI --------------------------------------------------------------


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "text.txt"
    path.write_text("\n".join(DOCUMENTS) + "\n", encoding="utf-8")
    return path


def test_evaluate_module_loads_from_a_local_path(tiny_checkpoint, gpt2_tokenizer, monkeypatch, tmp_path):
    import evaluate

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_MODULES_CACHE", str(tmp_path / "modules"))
    metric = evaluate.load(metric_path("perplexity"))
    results = metric.compute(
        predictions=DOCUMENTS, model_id=str(tiny_checkpoint), max_length=32, stride=8, batch_size=4
    )
    model = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    expected = compute_perplexity(model, gpt2_tokenizer, DOCUMENTS, max_length=32, stride=8)
    assert results["tokens"] == expected.tokens
    assert results["perplexity"] == pytest.approx(expected.perplexity, rel=1e-6)
    assert results["bits_per_byte"] == pytest.approx(expected.bits_per_byte, rel=1e-6)
    with pytest.raises(ValueError, match="no packaged evaluate module"):
        metric_path("bleu")


def test_cli_writes_json_for_our_model_and_stock_gpt2(tiny_checkpoint, gpt2_tokenizer, text_file, tmp_path, capsys):
    # Stock GPT-2 with the same weights, saved as any Hub GPT-2 checkpoint is.
    ours = AutoModelForCausalLM.from_pretrained(tiny_checkpoint)
    gpt2_dir = tmp_path / "gpt2"
    stock_gpt2_twin(ours).save_pretrained(gpt2_dir)
    save_tokenizer(gpt2_tokenizer, gpt2_dir)
    common = [
        "--dataset",
        "text",
        "--data-files",
        str(text_file),
        "--split",
        "train",
        "--stride",
        "24",
        "--no-progress",
    ]

    out = tmp_path / "ours.json"
    assert (
        main(["perplexity", "--model", str(tiny_checkpoint), *common, "--batch-size", "2", "--output-json", str(out)])
        == 0
    )
    ours_record = json.loads(out.read_text())
    # --limit, and a directory for timestamped records.
    runs = tmp_path / "runs"
    assert main(["perplexity", "--model", str(gpt2_dir), *common, "--limit", "3", "--output-json", str(runs)]) == 0
    (written,) = runs.glob("result-*.json")
    gpt2_record = json.loads(written.read_text())
    stdout = capsys.readouterr().out
    assert "perplexity:" in stdout and "bits per byte:" in stdout

    for record, texts in ((ours_record, DOCUMENTS), (gpt2_record, DOCUMENTS[:3])):
        expected = compute_perplexity(ours, gpt2_tokenizer, texts, stride=24)
        for key in (
            "perplexity",
            "loss",
            "tokens",
            "bits_per_byte",
            "model",
            "dataset",
            "split",
            "max_length",
            "stride",
        ):
            assert key in record
        assert (record["dataset"], record["split"], record["max_length"], record["stride"]) == ("text", "train", 64, 24)
        assert (record["tokens"], record["rows"]) == (expected.tokens, len(texts))
        assert record["perplexity"] == pytest.approx(expected.perplexity, rel=1e-6)
        assert record["bits_per_byte"] == pytest.approx(expected.bits_per_byte, rel=1e-6)
        assert "_timestamp" in record  # recorded through evaluate.save
    assert (ours_record["model"], gpt2_record["model"]) == (str(tiny_checkpoint), str(gpt2_dir))


@pytest.fixture(scope="module")
def headless_checkpoints(tmp_path_factory, gpt2_tokenizer):
    root = tmp_path_factory.mktemp("headless")
    save_checkpoint(GPTBaseModel(GPTConfig(**TINY_BOOK_CONFIG)), root / "base", tokenizer=gpt2_tokenizer)
    bert = BertModel(
        BertConfig(
            vocab_size=50257,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            max_position_embeddings=64,
        )
    )
    save_checkpoint(bert, root / "bert", tokenizer=gpt2_tokenizer)
    return root


def _cli_error(argv, capsys) -> str:
    assert main(["perplexity", *argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ({"empty.txt": ""}, [], "could not be read"),
        ({"header.csv": "text,label\n"}, ["--dataset", "csv"], "no data"),
        ({"blank.txt": "\n\n \n"}, [], "empty or whitespace"),
        ({"short.txt": "Hi\n"}, [], "at least 2"),
        ({"t.txt": "some words here\n"}, ["--text-column", "body"], "'body' is not a column"),
        ({"t.txt": "some words here\n"}, ["--stride", "65"], "stride=65"),
    ],
)
def test_cli_data_errors(tiny_checkpoint, tmp_path, capsys, files, extra, message):
    paths = []
    for name, content in files.items():
        paths.append(tmp_path / name)
        paths[-1].write_text(content)
    argv = ["--model", str(tiny_checkpoint), "--dataset", "text", "--split", "train", "--data-files", *map(str, paths)]
    assert message in _cli_error([*argv, *extra], capsys)


@pytest.mark.parametrize(
    ("name", "message"), [("base", "out_head.weight"), ("bert", "BertModel"), ("missing", "cannot load")]
)
def test_cli_refuses_models_without_a_causal_lm_head(headless_checkpoints, text_file, capsys, name, message):
    argv = [
        "--model",
        str(headless_checkpoints / name),
        "--dataset",
        "text",
        "--split",
        "train",
        "--data-files",
        str(text_file),
    ]
    err = _cli_error(argv, capsys)
    assert message in err and ("no trained causal LM head" in err or name == "missing")


def test_script_reports_user_errors_in_one_line(text_file, tmp_path, monkeypatch, capsys):
    argv = ["--model", str(tmp_path / "nope"), "--dataset", "text", "--split", "train", "--data-files", str(text_file)]
    monkeypatch.setattr(sys, "argv", ["perplexity.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "scripts" / "perplexity.py"), run_name="__main__")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("gpt-from-scratch perplexity: error: cannot load a model")
