"""Sliding-window perplexity of any causal LM, as an ``evaluate`` metric that loads with no network.

    import evaluate
    from gpt_from_scratch.metrics import metric_path

    perplexity = evaluate.load(metric_path("perplexity"))
    perplexity.compute(predictions=texts, model_id="gpt2", max_length=1024, stride=512)

``evaluate`` copies this script into its module cache, so it imports the installed package by
absolute name; the computation is :func:`gpt_from_scratch.perplexity.compute_perplexity`.
"""

import datasets
import evaluate

import gpt_from_scratch.checkpoint
import gpt_from_scratch.perplexity

_DESCRIPTION = """
Perplexity of a causal language model on texts, with the sliding windows of the transformers
perplexity guide and exact token accounting: every token after the first is scored once, with at
least max_length - stride tokens of context (stride == max_length: non-overlapping windows, whose
first tokens are not scored). Texts are joined with "\\n\\n" into one stream unless per_document=True.
Also returns bits per byte (total NLL in bits over the UTF-8 bytes of the scored text) and word-level
perplexity, which compare across tokenizers.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): the texts to score.
    model_id (str): local directory or Hub id of any causal LM (this package's models included).
    tokenizer_id (str, optional): tokenizer to use instead of model_id's.
    max_length (int, optional): window length in tokens; default: the model's maximum.
    stride (int, optional): tokens between window starts; default: max_length // 2.
    batch_size (int): windows per forward pass; default 1.
    per_document (bool): score each text on its own; default False.
    add_start_token (bool): put the BOS token before each sequence so its first token is scored.
    dtype (str): "auto" (the checkpoint's), "float32", "float16" or "bfloat16".
    device (str): "auto", "cpu", "cuda", ...
    trust_remote_code (bool): allow models whose code lives on the Hub.
Returns:
    perplexity, loss (mean NLL, nats/token), tokens, total_nll, bytes, bits_per_byte, words,
    word_perplexity, sequences, windows, max_length, stride.
Examples:
    >>> perplexity = evaluate.load(metric_path("perplexity"))
    >>> perplexity.compute(predictions=["Every effort moves you forward."], model_id="gpt2")["tokens"]
    5
"""

_CITATION = """
@misc{huggingface-perplexity-guide,
  title = {Perplexity of fixed-length models},
  author = {Hugging Face},
  howpublished = {\\url{https://huggingface.co/docs/transformers/perplexity}}
}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Perplexity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            module_type="metric",
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string")}),
            reference_urls=["https://huggingface.co/docs/transformers/perplexity"],
        )

    def _compute(
        self,
        predictions,
        model_id,
        tokenizer_id=None,
        max_length=None,
        stride=None,
        batch_size=1,
        per_document=False,
        add_start_token=False,
        dtype="auto",
        device="auto",
        trust_remote_code=False,
    ):
        model, tokenizer = gpt_from_scratch.checkpoint.load_causal_lm(
            model_id,
            tokenizer_name_or_path=tokenizer_id,
            dtype=dtype,
            device=device,
            trust_remote_code=trust_remote_code,
        )
        result = gpt_from_scratch.perplexity.compute_perplexity(
            model,
            tokenizer,
            predictions,
            max_length=max_length,
            stride=stride,
            batch_size=batch_size,
            per_document=per_document,
            add_start_token=add_start_token,
        )
        return result.to_dict()
