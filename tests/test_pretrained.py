"""MiniLM from the package or from a half-precision copy (aigc_lessons.pretrained): the copy a lent GPU
machine gets instead of the 87 MiB package gives the same sentence embeddings."""

import pytest
import torch

from aigc_lessons import pretrained
from aigc_lessons.attention.minilm import sentence_embeddings
from aigc_lessons.pretrained import MINILM_DIR_ENV, export_minilm, load_minilm

SENTENCES = [
    "Prepare financial statements and reports for management.",
    "Operate a forklift to move pallets in a warehouse.",
    "Shall I compare thee to a summer's day?",
]


def embed(encoder):
    """(token ids, sentence embeddings) of SENTENCES."""
    ids = encoder.tokenizer(SENTENCES, padding=True, return_tensors="pt")["input_ids"]
    return ids, sentence_embeddings(encoder.model, encoder.tokenizer, SENTENCES)


@pytest.fixture(scope="module")
def copy_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("minilm") / "fp16"
    export_minilm(folder)
    return folder


@pytest.fixture(scope="module")
def original():
    return embed(load_minilm())


def test_the_float16_copy_is_half_the_size_and_fits_beside_the_careers_data(copy_dir):
    """44 MiB: with the 4.1 MiB careers data and the checkout it stays under a 64 MiB transfer."""
    size = sum(f.stat().st_size for f in copy_dir.iterdir())
    package = pretrained.minilm_path() / "model.safetensors"
    assert size < 0.55 * package.stat().st_size
    assert size < 48 * 2**20, size


def test_the_copy_gives_the_same_tokens_and_embeddings(copy_dir, original, monkeypatch):
    monkeypatch.setenv(MINILM_DIR_ENV, str(copy_dir))
    encoder = load_minilm()
    assert encoder.path == str(copy_dir)
    assert all(p.dtype == torch.float32 for p in encoder.model.parameters())  # upcast to float32 on loading
    ids, emb = embed(encoder)
    ids0, emb0 = original
    assert torch.equal(ids, ids0)
    distance = 1 - (emb * emb0).sum(-1)
    assert float(distance.max()) < 1e-5, distance


def test_the_comparison_would_catch_a_wrong_copy(copy_dir, original):
    """The check can fail: the same architecture with untrained weights is far away."""
    from transformers import AutoConfig, AutoModel

    torch.manual_seed(0)
    untrained = AutoModel.from_config(AutoConfig.from_pretrained(copy_dir), dtype=torch.float32).eval()
    encoder = load_minilm()
    encoder.model = untrained
    _, emb = embed(encoder)
    assert float((1 - (emb * original[1]).sum(-1)).min()) > 1e-2


def test_an_incomplete_copy_is_refused_by_name(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv(MINILM_DIR_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError, match="missing model.safetensors, tokenizer.json"):
        load_minilm()


def test_export_never_overwrites_and_never_copies_a_copy(copy_dir, monkeypatch, capsys):
    assert pretrained.main(["export", str(copy_dir)]) == 2
    assert "already holds a model" in capsys.readouterr().err
    monkeypatch.setenv(MINILM_DIR_ENV, str(copy_dir))
    with pytest.raises(ValueError, match="unset AIGC_MINILM_DIR"):
        export_minilm(copy_dir.parent / "again")


def test_an_interrupted_export_leaves_no_partial_copy(tmp_path, monkeypatch):
    from transformers import PreTrainedTokenizerBase

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # after the weights were written, before the tokenizer

    monkeypatch.setattr(PreTrainedTokenizerBase, "save_pretrained", crash)
    target = tmp_path / "copy"
    with pytest.raises(KeyboardInterrupt):
        export_minilm(target)
    assert list(tmp_path.iterdir()) == []  # neither the copy nor its hidden work folder


def test_export_refuses_a_folder_with_other_files_and_fills_an_empty_one(tmp_path, copy_dir):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        export_minilm(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_minilm(empty) == empty
    assert sorted(p.name for p in empty.iterdir()) == sorted(p.name for p in copy_dir.iterdir())
