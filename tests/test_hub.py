"""Sharing on the Hub: the exact upload, the model card, and loading it as a stranger would.

The stranger test publishes the files of ``push --dry-run`` into git repositories, serves them with
olah (a Hub-compatible server) on loopback, and loads them with ``trust_remote_code`` in a fresh
interpreter where ``gpt_from_scratch`` cannot be imported.
"""

import ast
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch
from huggingface_hub import CommitInfo, ModelCard

from gpt_from_scratch import GPTBaseModel, GPTConfig, GPTForCausalLM, GPTModel, generate_text_simple
from gpt_from_scratch.checkpoint import save_checkpoint
from gpt_from_scratch.cli import main
from gpt_from_scratch.hub import (
    EVAL_RESULTS_FILE,
    hub_auto_map,
    hub_code_files,
    push_checkpoint,
    render_model_card,
    stage_upload,
)
from gpt_from_scratch.tokenization import save_tokenizer
from tests.conftest import TINY_BOOK_CONFIG

PROMPT = "Every effort moves you"
NEW_TOKENS = 8
CODE_FILES = {"configuration_gpt.py", "modeling_gpt.py"}
TOKENIZER_FILES = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}


def _book_greedy_ids(model, ids: torch.Tensor) -> list[int]:
    """The book's greedy loop: an independent reference for ``generate`` and the pipeline."""
    return generate_text_simple(model, ids, NEW_TOKENS, model.config.context_length)[0].tolist()


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, gpt2_tokenizer):
    """A trained-looking causal LM checkpoint (with perplexity results and Trainer leftovers) and a
    checkpoint saved from the book's ``GPTModel``, with the original models."""
    root = tmp_path_factory.mktemp("hub")
    torch.manual_seed(3)
    causal_lm = GPTForCausalLM(GPTConfig(**{**TINY_BOOK_CONFIG, "qkv_bias": True})).eval()
    causal_dir = root / "causal-lm"
    save_checkpoint(causal_lm, causal_dir, tokenizer=gpt2_tokenizer)
    ids = gpt2_tokenizer("I HAD always thought Jack Gisburn rather a cheap genius", return_tensors="pt").input_ids
    with torch.no_grad():
        loss = causal_lm(input_ids=ids, labels=ids).loss.item()
    results = {
        "perplexity": math.exp(loss),
        "loss": loss,
        "tokens": ids.shape[1] - 1,
        "bits_per_byte": 1.25,
        "model": str(causal_dir),
        "dataset": "wikitext",
        "dataset_config": "wikitext-2-raw-v1",
        "split": "test",
        "max_length": 64,
        "stride": 32,
        "_interpreter_path": sys.executable,
    }
    (causal_dir / EVAL_RESULTS_FILE).write_text(json.dumps(results), encoding="utf-8")
    (causal_dir / "optimizer.pt").write_bytes(b"not for the Hub")
    (causal_dir / "checkpoint-10").mkdir()
    (causal_dir / "checkpoint-10" / "trainer_state.json").write_text("{}", encoding="utf-8")

    torch.manual_seed(4)
    book_model = GPTModel(TINY_BOOK_CONFIG).eval()
    book_dir = root / "book-model"
    book_model.save_pretrained(book_dir)
    save_tokenizer(gpt2_tokenizer, book_dir)
    return {"root": root, "causal_lm": (causal_lm, causal_dir, results), "book": (book_model, book_dir)}


def test_hub_code_imports_only_itself_and_what_transformers_installs():
    files = hub_code_files()
    assert {path.name for path in files} == CODE_FILES
    # safetensors is a hard requirement of transformers itself, so every transformers install has it.
    allowed = set(sys.stdlib_module_names) | {"torch", "transformers", "safetensors"}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level == 1 and f"{node.module}.py" in CODE_FILES, (
                    f"{path.name}: from {'.' * node.level}{node.module}"
                )
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
                for name in names:
                    assert name.split(".")[0] in allowed, f"{path.name} imports {name}"


def test_save_pretrained_writes_code_and_auto_map(tiny_model, tmp_path):
    tiny_model.save_pretrained(tmp_path / "lm")
    GPTBaseModel(GPTConfig(**TINY_BOOK_CONFIG)).save_pretrained(tmp_path / "base")
    lm_config = json.loads((tmp_path / "lm" / "config.json").read_text())
    base_config = json.loads((tmp_path / "base" / "config.json").read_text())
    assert lm_config["auto_map"] == {
        "AutoConfig": "configuration_gpt.GPTConfig",
        "AutoModelForCausalLM": "modeling_gpt.GPTForCausalLM",
    }
    assert base_config["auto_map"] == {
        "AutoConfig": "configuration_gpt.GPTConfig",
        "AutoModel": "modeling_gpt.GPTBaseModel",
    }
    for source in hub_code_files():
        assert (tmp_path / "lm" / source.name).read_bytes() == source.read_bytes()


def test_dry_run_lists_the_staged_files_and_sends_nothing(checkpoints, tmp_path, capsys):
    _, causal_dir, _ = checkpoints["causal_lm"]
    assert main(["push", str(causal_dir), "me/tiny-gpt", "--dry-run", "--revision", "v1"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[-1] for line in out.splitlines() if line.startswith("  ")}
    plan = stage_upload(causal_dir, tmp_path / "staged", "me/tiny-gpt")

    expected = {"README.md", "config.json", "generation_config.json", "model.safetensors", EVAL_RESULTS_FILE}
    expected |= CODE_FILES | {name for name in TOKENIZER_FILES if (causal_dir / name).is_file()}
    assert listed == set(plan.files) == expected
    assert {path.name for path in (tmp_path / "staged").iterdir()} == expected
    assert f"would upload {len(expected)} files" in out and "to me/tiny-gpt (revision v1)" in out
    assert plan.left_out == ["checkpoint-10/trainer_state.json", "optimizer.pt"]
    assert "not uploaded from the checkpoint directory: checkpoint-10/trainer_state.json, optimizer.pt" in out
    for name, size in plan.files.items():
        assert (tmp_path / "staged" / name).stat().st_size == size
    # The uploaded results keep the figures and drop what describes the machine they ran on.
    public = json.loads((tmp_path / "staged" / EVAL_RESULTS_FILE).read_text())
    assert public["perplexity"] == checkpoints["causal_lm"][2]["perplexity"]
    assert "model" not in public and "_interpreter_path" not in public
    assert not list(causal_dir.parent.glob(".causal-lm.push-*")), "the staging folder was left behind"


def test_model_card_metadata(checkpoints):
    _, causal_dir, results = checkpoints["causal_lm"]
    card = render_model_card(
        causal_dir,
        "me/tiny-gpt",
        license="mit",
        datasets=["roneneldan/TinyStories"],
        tags=["tiny"],
        base_model="me/base",
    )
    parsed = ModelCard(str(card)).data  # what the Hub reads back from README.md
    assert parsed.license == "mit"
    assert parsed.library_name == "transformers" and parsed.pipeline_tag == "text-generation"
    assert parsed.tags == ["gpt-from-scratch", "llms-from-scratch", "custom_code", "tiny"]
    assert parsed.datasets == ["roneneldan/TinyStories"]
    assert parsed.base_model == "me/base"
    perplexity, bits_per_byte = parsed.eval_results
    assert (perplexity.metric_type, perplexity.metric_value) == ("perplexity", results["perplexity"])
    assert (bits_per_byte.metric_type, bits_per_byte.metric_value) == ("bits_per_byte", 1.25)
    assert (perplexity.dataset_type, perplexity.dataset_config, perplexity.dataset_split) == (
        "wikitext",
        "wikitext-2-raw-v1",
        "test",
    )
    n_params = sum(p.numel() for p in checkpoints["causal_lm"][0].parameters())
    assert f"({n_params:,}) parameters" in card.text
    assert f"{results['perplexity']:.3f}" in card.text
    assert 'model="me/tiny-gpt"' in card.text and "pin `revision`" in card.text


def test_model_card_without_results(tiny_checkpoint):
    card = render_model_card(tiny_checkpoint, "tiny")
    assert card.data.eval_results is None and card.data.license == "apache-2.0"
    assert "No evaluation results" in card.text


def test_model_card_names_local_evaluation_files(tiny_checkpoint, tmp_path):
    local = tmp_path / "local"
    shutil.copytree(tiny_checkpoint, local)
    results = {"perplexity": 7.5, "dataset": "text", "split": "train", "data_files": ["/home/me/verdict.txt"]}
    (local / EVAL_RESULTS_FILE).write_text(json.dumps(results), encoding="utf-8")
    card = render_model_card(local, "me/local")
    (result,) = card.data.eval_results
    assert (result.dataset_type, result.dataset_name, result.metric_value) == ("text", "local text files", 7.5)
    assert card.data.datasets is None  # evaluation data is not training data
    assert "/home/me" not in str(card)


def test_sharded_checkpoint_uploads_the_index_and_every_shard(tiny_model, gpt2_tokenizer, tmp_path):
    tiny_model.save_pretrained(tmp_path / "sharded", max_shard_size="5MB")
    save_tokenizer(gpt2_tokenizer, tmp_path / "sharded")
    plan = stage_upload(tmp_path / "sharded", tmp_path / "staged", "me/sharded")
    index = json.loads((tmp_path / "sharded" / "model.safetensors.index.json").read_text())
    shards = set(index["weight_map"].values())
    assert len(shards) > 1 and shards | {"model.safetensors.index.json"} <= set(plan.files)
    assert f"({tiny_model.num_parameters():,}) parameters" in (tmp_path / "staged" / "README.md").read_text()


def test_a_model_card_in_the_checkpoint_is_uploaded_as_is(tiny_checkpoint, tmp_path):
    own = tmp_path / "own"
    shutil.copytree(tiny_checkpoint, own)
    (own / "README.md").write_text("---\nlicense: mit\n---\n# Mine\n", encoding="utf-8")
    plan = stage_upload(own, tmp_path / "staged", "me/own")
    assert plan.card == "checkpoint"
    assert (tmp_path / "staged" / "README.md").read_text() == "---\nlicense: mit\n---\n# Mine\n"


def test_push_uploads_the_staged_folder_in_one_commit(checkpoints):
    """The upload side up to the network: a recording stand-in for ``HfApi``."""
    _, causal_dir, _ = checkpoints["causal_lm"]

    class RecordingApi:
        def __init__(self):
            self.calls = []

        def create_repo(self, repo_id, **kwargs):
            self.calls.append(("create_repo", repo_id, kwargs))
            return type("RepoUrl", (), {"repo_id": repo_id})()

        def create_branch(self, repo_id, **kwargs):
            self.calls.append(("create_branch", repo_id, kwargs))

        def upload_folder(self, **kwargs):
            files = {path.name: path.stat().st_size for path in Path(kwargs["folder_path"]).iterdir()}
            self.calls.append(("upload_folder", files, kwargs))
            return CommitInfo(
                commit_url="https://huggingface.co/me/tiny-gpt/commit/" + "a" * 40,
                commit_message="m",
                commit_description="",
                oid="a" * 40,
            )

    api = RecordingApi()
    result = push_checkpoint(
        causal_dir, "me/tiny-gpt", private=True, revision="v1", commit_message="first", api=api, token="t"
    )
    (create, _, create_kwargs), (branch, _, branch_kwargs), (upload, uploaded, upload_kwargs) = api.calls
    assert (create, branch, upload) == ("create_repo", "create_branch", "upload_folder")
    assert create_kwargs == {"private": True, "token": "t", "exist_ok": True}
    assert branch_kwargs == {"branch": "v1", "token": "t", "exist_ok": True}
    assert upload_kwargs["revision"] == "v1" and upload_kwargs["commit_message"] == "first"
    assert uploaded == result.plan.files
    assert result.commit.oid == "a" * 40


@pytest.mark.parametrize(
    "mutate, error",
    [
        (lambda d: (d / "tokenizer_config.json").unlink(), "has no tokenizer"),
        (lambda d: (d / "model.safetensors").rename(d / "pytorch_model.bin"), "pickled weights"),
        (lambda d: (d / EVAL_RESULTS_FILE).write_text('{"perplexity": "low", "dataset": "x"}'), "'perplexity' must be"),
        (lambda d: (d / "config.json").write_text(json.dumps({"model_type": "gpt2"})), "model_type='gpt2'"),
        (
            lambda d: (d / "config.json").write_text(
                json.dumps({**json.loads((d / "config.json").read_text()), "architectures": ["GPTBaseModel"]})
            ),
            "no output head",
        ),
    ],
)
def test_push_rejects_bad_checkpoints_with_one_line(checkpoints, tmp_path, capsys, mutate, error):
    broken = tmp_path / "broken"
    shutil.copytree(checkpoints["causal_lm"][1], broken)
    mutate(broken)
    assert main(["push", str(broken), "me/tiny-gpt", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpt-from-scratch push: error: ") and error in err and err.count("\n") == 1


def test_push_rejects_bad_arguments(tmp_path, tiny_checkpoint, capsys):
    assert main(["push", str(tmp_path / "missing"), "me/x", "--dry-run"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["push", str(tiny_checkpoint), "me/bad--name", "--dry-run"]) == 2
    assert "repo_id" in capsys.readouterr().err


# --- Loading anywhere: olah serves the published files; a fresh interpreter loads them. ---

STRANGER = r"""
import importlib.abc, json, sys

class BlockPackage(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "gpt_from_scratch":
            raise ImportError("gpt_from_scratch is not installed here")

sys.meta_path.insert(0, BlockPackage())
try:
    import gpt_from_scratch
except ImportError:
    pass
else:
    raise SystemExit("gpt_from_scratch is importable: not a stranger")

import torch
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer, pipeline

jobs, out_path, prompt, new_tokens = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
out = {}
for repo, revision, everything in jobs:
    kwargs = {"trust_remote_code": True, "revision": revision}
    config = AutoConfig.from_pretrained(repo, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(repo, **kwargs).eval()
    tokenizer = AutoTokenizer.from_pretrained(repo, **kwargs)
    encoded = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        logits = model(**encoded).logits
        greedy = model.generate(**encoded, max_new_tokens=new_tokens, do_sample=False, pad_token_id=50256)
    out[repo] = {
        "classes": [type(obj).__module__ + "." + type(obj).__name__ for obj in (config, model)],
        "input_ids": encoded.input_ids.tolist(),
        "logits": logits,
        "greedy": greedy[0].tolist(),
    }
    if everything:
        base = AutoModel.from_pretrained(repo, **kwargs).eval()
        with torch.no_grad():
            out[repo]["hidden"] = base(**encoded).last_hidden_state
        out[repo]["classes"].append(type(base).__module__ + "." + type(base).__name__)
        generator = pipeline("text-generation", model=repo, **kwargs)
        text = generator(prompt, max_new_tokens=new_tokens, do_sample=False, pad_token_id=50256)
        out[repo]["pipeline_text"] = text[0]["generated_text"]
torch.save(out, out_path)
"""


def _publish(plan_files: dict[str, int], staged: Path) -> str:
    """Commit exactly the staged files into the git repository at ``staged`` and return the commit hash."""
    git = ["git", "-C", str(staged), "-c", "user.name=gpt-from-scratch", "-c", "user.email=test@localhost"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "--", *plan_files], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "Upload with gpt-from-scratch"], check=True)
    tracked = subprocess.run([*git, "ls-files"], check=True, capture_output=True, text=True).stdout.split()
    assert set(tracked) == set(plan_files)
    return subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def hub_server(checkpoints):
    """olah on loopback, offline, serving the git repositories under ``mirrors/models/``."""
    pytest.importorskip("olah", reason="olah (a Hub-compatible server, pip install olah) is not installed")
    root = checkpoints["root"] / "server"
    (root / "mirrors" / "models" / "me").mkdir(parents=True)
    port = _free_port()
    (root / "olah.toml").write_text(
        f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{root / "cache"}"\n'
        f'mirrors-path = ["{root / "mirrors"}"]\n[accessibility]\noffline = true\n',
        encoding="utf-8",
    )
    url = f"http://127.0.0.1:{port}"
    with open(root / "olah.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "olah.server", "-c", str(root / "olah.toml")], cwd=root, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/models/me/none/revision/main", timeout=2)
                except urllib.error.HTTPError:
                    break  # answering (no such repository yet)
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        pytest.skip(f"olah did not start: {(root / 'olah.log').read_text(errors='replace')[-500:]}")
                    time.sleep(0.3)
            yield url, root / "mirrors" / "models" / "me"
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_a_stranger_loads_the_pushed_files_from_a_hub(checkpoints, hub_server, gpt2_tokenizer, encoding, capsys):
    url, repos = hub_server
    causal_lm, causal_dir, _ = checkpoints["causal_lm"]
    book_model, book_dir = checkpoints["book"]
    jobs, originals = [], {}
    for name, model, directory in (("tiny-gpt", causal_lm, causal_dir), ("book-gpt", book_model, book_dir)):
        repo_id = f"me/{name}"
        assert main(["push", str(directory), repo_id, "--dry-run"]) == 0
        listed = {line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")}
        plan = stage_upload(directory, repos / name, repo_id)
        assert set(plan.files) == listed
        # Only the self-contained code goes up, whatever the class saved (GPTModel's book.py needs this package).
        assert {name for name in plan.files if name.endswith(".py")} == CODE_FILES
        assert json.loads((repos / name / "config.json").read_text())["auto_map"] == hub_auto_map()
        # AutoModel and the pipeline once: the second repository differs only in what was saved.
        jobs.append((repo_id, _publish(plan.files, repos / name), name == "tiny-gpt"))
        originals[repo_id] = model

    out_path = checkpoints["root"] / "stranger.pt"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(checkpoints["root"]),
        "HF_HOME": str(checkpoints["root"] / "hf-home"),
        "HF_ENDPOINT": url,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }
    stranger = subprocess.run(  # noqa: PLW1510 (the return code is asserted with the stderr)
        [sys.executable, "-I", "-c", STRANGER, json.dumps(jobs), str(out_path), PROMPT, str(NEW_TOKENS)],
        cwd=checkpoints["root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert stranger.returncode == 0, stranger.stderr[-3000:]
    loaded = torch.load(out_path)

    for repo_id, revision, everything in jobs:
        got, original = loaded[repo_id], originals[repo_id]
        # The code ran from the repository at the pinned commit, not from an installed package.
        module = f"transformers_modules.me.{repo_id.split('/')[1].replace('-', '_hyphen_')}.{revision}"
        classes = ["configuration_gpt.GPTConfig", "modeling_gpt.GPTForCausalLM"] + [
            "modeling_gpt.GPTBaseModel"
        ] * everything
        assert got["classes"] == [f"{module}.{name}" for name in classes]
        assert got["input_ids"] == [encoding.encode(PROMPT)]
        ids = torch.tensor(got["input_ids"])
        with torch.no_grad():
            torch.testing.assert_close(got["logits"], GPTForCausalLM.forward(original, input_ids=ids).logits)
        expected_ids = _book_greedy_ids(original, ids)
        assert got["greedy"] == expected_ids
        if everything:
            with torch.no_grad():
                torch.testing.assert_close(
                    got["hidden"], GPTBaseModel.forward(original, input_ids=ids).last_hidden_state
                )
            assert got["pipeline_text"] == gpt2_tokenizer.decode(expected_ids)


def test_generate_and_convert_take_hub_ids(checkpoints, hub_server, gpt2_tokenizer, tmp_path):
    # `generate MODEL` and `convert SRC --from gpt2` accept Hub ids: served here by olah, read in a fresh
    # process that knows the server only through HF_ENDPOINT.
    from transformers import GPT2Config, GPT2LMHeadModel

    url, repos = hub_server
    causal_lm, causal_dir, _ = checkpoints["causal_lm"]
    # Pinned commits, as the README advises (olah also answers a missing file on a branch with 401, not 404).
    cli_gpt = _publish(stage_upload(causal_dir, repos / "cli-gpt", "me/cli-gpt").files, repos / "cli-gpt")
    torch.manual_seed(5)
    stock = GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64)).eval()
    stock.save_pretrained(repos / "stock-gpt2")
    save_tokenizer(gpt2_tokenizer, repos / "stock-gpt2")
    stock_gpt2 = _publish({path.name: 0 for path in (repos / "stock-gpt2").iterdir()}, repos / "stock-gpt2")

    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_ENDPOINT": url,
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TRANSFORMERS_VERBOSITY": "error",
    }

    def cli(*args: str) -> str:
        done = subprocess.run(  # noqa: PLW1510 (the return code is asserted with the stderr)
            [sys.executable, "-m", "gpt_from_scratch", *args],
            cwd=Path(__file__).resolve().parents[1],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    printed = cli(
        "generate", "me/cli-gpt", PROMPT, "--max-new-tokens", str(NEW_TOKENS), "--no-stream", "--revision", cli_gpt
    )
    ids = gpt2_tokenizer(PROMPT, return_tensors="pt").input_ids
    assert printed.rstrip("\n") == gpt2_tokenizer.decode(_book_greedy_ids(causal_lm, ids))

    # perplexity: one window over one line, against a plain cross-entropy of the original model.
    line = "I HAD always thought Jack Gisburn rather a cheap genius--though a good fellow enough"
    (tmp_path / "line.txt").write_text(line + "\n", encoding="utf-8")
    record = tmp_path / "ppl.json"
    cli("perplexity", "--model", "me/cli-gpt", "--revision", cli_gpt, "--dataset", "text", "--data-files",
        str(tmp_path / "line.txt"), "--split", "train", "--max-length", "64", "--stride", "64",
        "--output-json", str(record))  # fmt: skip
    line_ids = gpt2_tokenizer(line, return_tensors="pt").input_ids
    with torch.no_grad():
        logits = GPTForCausalLM.forward(causal_lm, input_ids=line_ids).logits
    reference = torch.nn.functional.cross_entropy(logits[0, :-1], line_ids[0, 1:]).exp().item()
    assert json.loads(record.read_text())["perplexity"] == pytest.approx(reference, rel=1e-5)

    cli("convert", "me/stock-gpt2", str(tmp_path / "converted"), "--from", "gpt2", "--revision", stock_gpt2)
    assert (tmp_path / "converted" / "tokenizer.json").is_file()  # the Hub repository's tokenizer, saved beside
    converted = GPTForCausalLM.from_pretrained(tmp_path / "converted").eval()
    with torch.no_grad():
        torch.testing.assert_close(converted(input_ids=ids).logits, stock(input_ids=ids).logits)


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "model.pth", "out", "--from", "book", "--preset", "tiny", "--revision", "v1"],
        ["convert", "ck", "out", "--to", "gpt2", "--revision", "v1"],
    ],
    ids=["book-file", "export"],
)
def test_convert_refuses_a_revision_where_nothing_is_read_from_the_hub(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "revision" in capsys.readouterr().err
