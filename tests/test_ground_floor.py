"""The small shared pieces: atomic writes, code hashes, the character tokenizer, mistake reports,
thread control, the config style, and the rule that the ground floor imports no chapter."""

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from aigc_lessons import files, mistakes, runtime, text

PKG = Path(__file__).resolve().parent.parent / "aigc_lessons"
GROUND_FLOOR = ["runtime", "data", "checkpoint", "bench", "metrics", "plots", "files", "mistakes", "text", "ema",
                "pretrained"]
CHAPTERS = ["bigram", "gan", "vae", "attention", "lm", "careers", "diffusion"]


def test_atomic_write_bytes_and_writer(tmp_path):
    target = tmp_path / "a" / "b.bin"
    files.atomic_write(target, b"one")
    files.atomic_write(target, lambda fh: fh.write(b"two"))
    assert target.read_bytes() == b"two"

    def broken(fh):
        fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        files.atomic_write(target, broken)
    assert target.read_bytes() == b"two" and os.listdir(target.parent) == ["b.bin"]


def test_code_hash_follows_the_source():
    def f():
        return 1

    def g():
        return 2

    def twin():
        def f():  # the same name as the first f, another body
            return 2
        return f

    assert files.code_hash(f) != files.code_hash(g)
    assert f.__qualname__.split(".")[-1] == twin().__qualname__.split(".")[-1]
    assert files.code_hash(f) != files.code_hash(twin())
    assert files.code_hash(f) == files.code_hash(f) and len(files.code_hash(f)) == 12


def test_char_tokenizer_roundtrip_and_errors():
    tok = text.CharTokenizer.from_text("hello world")
    assert tok.chars == (" ", "d", "e", "h", "l", "o", "r", "w") and len(tok) == tok.vocab_size == 8
    ids = tok.encode("hold")
    assert ids.tolist() == [3, 5, 4, 1] and tok.decode(ids) == "hold"
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("hz")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([0, 8])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([-1])
    with pytest.raises(ValueError):
        text.CharTokenizer.from_text("")


def test_mistake_report_table():
    r = mistakes.MistakeReport("kl sign", "adds the KL", {"kl": 5.0}, {"kl": 1.0, "nll": 90.0})
    t = r.table()
    assert list(t.index) == ["kl", "nll"] and t.loc["kl", "symptom"] == 5.0 and t.loc["nll", "fixed"] == 90.0
    with pytest.raises(ValueError):
        mistakes.MistakeReport("", "x", {}, {})


def test_cpu_threads_sets_and_restores():
    before = torch.get_num_threads()
    with runtime.cpu_threads(2):  # start from two threads, so a context manager that does nothing fails
        assert torch.get_num_threads() == 2
        with runtime.cpu_threads(1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with runtime.single_thread_if_cpu("cpu"):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before
    for bad in (0, "auto", 1.5, True):
        with pytest.raises(ValueError):
            with runtime.cpu_threads(bad):
                pass


def test_for_mode_style():
    @dataclass(frozen=True)
    class Cfg:
        steps: int
        lr: float = 1e-3

    assert runtime.for_mode(Cfg, "quick", dict(steps=10), dict(steps=1000)) == Cfg(10)
    assert runtime.for_mode(Cfg, "full", dict(steps=10), dict(steps=1000), lr=0.1) == Cfg(1000, 0.1)
    with pytest.raises(TypeError):
        runtime.for_mode(Cfg, "quick", dict(steps=10), dict(steps=1000), not_a_field=1)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            names.add((node.module or "").split(".")[0])
            names.update(a.name for a in node.names if not node.module)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aigc_lessons"):
            parts = node.module.split(".")
            names.add(parts[1] if len(parts) > 1 else "")
            names.update(a.name for a in node.names if len(parts) == 1)
        elif isinstance(node, ast.Import):  # import aigc_lessons.gan (as ...)
            names.update(a.name.split(".")[1] for a in node.names if a.name.startswith("aigc_lessons."))
    return names


def test_the_import_scan_sees_every_form_of_import(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from .gan import x\nfrom aigc_lessons.vae import y\nfrom aigc_lessons import lm\n"
                      "import aigc_lessons.diffusion as d\nimport aigc_lessons.careers.finetune\nimport torch\n")
    assert {"gan", "vae", "lm", "diffusion", "careers"} <= _imports(source)


@pytest.mark.parametrize("module", GROUND_FLOOR)
def test_the_ground_floor_imports_no_chapter(module):
    used = _imports(PKG / f"{module}.py")
    assert not used & set(CHAPTERS), f"{module} imports a chapter: {sorted(used & set(CHAPTERS))}"


def test_no_module_is_too_long_to_hold_in_ones_head():
    long = {str(p.relative_to(PKG)): n for p in PKG.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert not long, f"modules over 600 lines: {long}"


def test_no_unsafe_torch_load_anywhere():
    root = PKG.parent
    hits = [str(p.relative_to(root)) for d in ("aigc_lessons", "tests", "notebooks")
            for p in (root / d).rglob("*") if p.suffix in {".py", ".ipynb"}
            and "weights_only=" + "False" in p.read_text(encoding="utf-8")]
    assert not hits, f"unsafe torch.load (weights-only off) in {hits}"
