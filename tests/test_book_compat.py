"""The book's state dicts load into both faces, and both faces compute the book's logits."""

import torch

from gpt_from_scratch import GPTBaseModel, GPTConfig, GPTForCausalLM, GPTModel
from tests.book_reference import BookGPTModel
from tests.conftest import TINY_BOOK_CONFIG


def _saved_book_state_dict(tmp_path, cfg):
    torch.manual_seed(11)
    book = BookGPTModel(cfg).eval()
    path = tmp_path / "model.pth"
    torch.save(book.state_dict(), path)
    return book, torch.load(path, weights_only=True)


def test_book_state_dict_loads_strictly_into_both_faces(tmp_path):
    book, state_dict = _saved_book_state_dict(tmp_path, TINY_BOOK_CONFIG)
    assert any(key.endswith("att.mask") for key in state_dict)  # the book's dicts carry the mask buffer
    ids = torch.randint(0, TINY_BOOK_CONFIG["vocab_size"], (3, 17))
    with torch.no_grad():
        expected = book(ids)
    for face in (GPTModel(TINY_BOOK_CONFIG), GPTForCausalLM(GPTConfig(**TINY_BOOK_CONFIG))):
        result = face.load_state_dict(state_dict, strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        face.eval()
        with torch.no_grad():
            logits = face(ids)
        logits = logits if isinstance(logits, torch.Tensor) else logits.logits
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
        # Our checkpoints do not store masks.
        assert not any("mask" in key for key in face.state_dict())


def test_book_face_and_hf_face_give_the_same_logits(tmp_path):
    cfg = {**TINY_BOOK_CONFIG, "qkv_bias": True}
    torch.manual_seed(5)
    book_face = GPTModel(cfg).eval()
    hf_face = GPTForCausalLM(GPTConfig(**cfg)).eval()
    hf_face.load_state_dict(book_face.state_dict(), strict=True)
    ids = torch.randint(0, cfg["vocab_size"], (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(book_face(ids), hf_face(input_ids=ids).logits, atol=0, rtol=0)
        hidden = GPTBaseModel(GPTConfig(**cfg))
        missing = hidden.load_state_dict(book_face.state_dict(), strict=False)
        assert missing.unexpected_keys == ["out_head.weight"] and not missing.missing_keys
        hidden_states = hidden.eval()(input_ids=ids).last_hidden_state
        torch.testing.assert_close(book_face.out_head(hidden_states), book_face(ids))


def test_book_loop_runs_on_both_faces_with_identical_output(tmp_path):
    from gpt_from_scratch import generate_text_simple

    book_face = GPTModel(TINY_BOOK_CONFIG).eval()
    hf_face = GPTForCausalLM(GPTConfig(**TINY_BOOK_CONFIG)).eval()
    hf_face.load_state_dict(book_face.state_dict())
    idx = torch.tensor([[6109, 3626, 6100, 345]])
    a = generate_text_simple(book_face, idx, max_new_tokens=8, context_size=TINY_BOOK_CONFIG["context_length"])
    b = generate_text_simple(hf_face, idx, max_new_tokens=8, context_size=TINY_BOOK_CONFIG["context_length"])
    assert torch.equal(a, b)
