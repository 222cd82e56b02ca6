"""The demo (the main job) and its built-in corpus."""

import inspect
import json
import re

import pytest
from transformers import AutoModelForCausalLM

from gpt_from_scratch.cli import main
from gpt_from_scratch.corpus import HELD_OUT_MODULES, STDLIB_MODULES, module_document, stdlib_docstring_corpus


def test_corpus_is_the_stdlib_docstrings_with_a_fixed_held_out_split():
    corpus = stdlib_docstring_corpus()
    assert list(corpus["test"]["module"]) == sorted(HELD_OUT_MODULES)
    assert not set(corpus["train"]["module"]) & set(HELD_OUT_MODULES)
    assert set(corpus["train"]["module"]) | set(HELD_OUT_MODULES) <= set(STDLIB_MODULES)
    assert list(STDLIB_MODULES) == sorted(STDLIB_MODULES)
    json_doc = corpus["train"]["text"][list(corpus["train"]["module"]).index("json")]
    assert json_doc.startswith(inspect.getdoc(json))
    assert "json.dumps\n" + inspect.getdoc(json.dumps) in json_doc
    assert list(stdlib_docstring_corpus()["train"]["text"]) == list(corpus["train"]["text"])  # same every time


def test_corpus_rejects_a_held_out_module_it_does_not_gather():
    with pytest.raises(ValueError, match=r"held_out modules \['heapq'\] are not in modules"):
        stdlib_docstring_corpus(modules=["json"], held_out=["heapq"])
    assert module_document("bisect").startswith("Bisection algorithms.")


def test_demo_quick_trains_saves_reloads_generates_and_reports_perplexity(tmp_path, capsys):
    assert main(["demo", "--quick", "--output-dir", str(tmp_path), "--max-new-tokens", "5"]) == 0
    out = capsys.readouterr().out
    assert "== 2. corpus: Python" in out and "held out: fractions" in out
    assert "reloaded: GPTForCausalLM" in out and "pipeline('text-generation'), top-k 40 sampling, seed 123: 'Return the" in out
    before, after = (
        float(x.replace(",", "")) for x in re.search(r"untrained ([\d,.]+), trained ([\d,.]+)", out).groups()
    )
    assert after < before  # four steps already help
    model = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert (model.config.emb_dim, model.config.init_scheme) == (64, "gpt2")
    assert json.loads((tmp_path / "eval_results.json").read_text())["eval_loss"] > 0


@pytest.mark.slow
def test_demo_seed_check_prints_the_notebooks_reference_numbers(capsys):
    assert main(["demo", "--seed-check"]) == 0
    out = capsys.readouterr().out
    assert (
        "generated ids: [6109, 3626, 6100, 345, 34245, 5139, 2492, 25405, 17434, 17853, 5308, 3398, 13174, 43071]"
        in out
    )
    assert "cross-entropy loss: 10.7940, perplexity: 48725.8203" in out
