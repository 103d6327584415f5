"""A small GPT from scratch, trained at character level on tiny-shakespeare and on Tang quatrains.

The model (:class:`GPT`) is a stack of pre-norm transformer blocks built on
:class:`aigc_lessons.attention.MultiHeadAttention`:

.. math::  h \\leftarrow h + \\mathrm{MHA}(\\mathrm{LN}_1(h)),\\qquad h \\leftarrow h + \\mathrm{MLP}(\\mathrm{LN}_2(h)),

with token plus learned position embeddings at the bottom, a final LayerNorm, and an output layer
that shares its matrix with the token embedding (weight tying, Press & Wolf 2017). It is trained to
minimise the next-character cross-entropy

.. math::  \\mathcal{L} = -\\frac{1}{T}\\sum_{t=1}^{T} \\log p_\\theta(x_{t+1} \\mid x_{\\le t})

in nats per character. :func:`gpt2_twin` builds the same architecture as a Hugging Face
``GPT2LMHeadModel`` (random initialisation); :func:`train_lm` trains either.

Quick mode (CPU) and full mode (one GPU) share every function; only the configs differ
(:meth:`GPTConfig.for_mode`, :meth:`TrainConfig.for_mode`).

The chapter in files a reader can hold in their head:

- :mod:`.corpora`: tiny-shakespeare and Tang quatrain splits, batches, the quatrain format checks;
- :mod:`.model`: :class:`GPTConfig`, :class:`GPT` and its Hugging Face twin;
- :mod:`.train`: :class:`TrainConfig`, the resumable :func:`train_lm`, :func:`evaluate`;
- :mod:`.sampling`: temperature, top-k, top-p and :func:`generate` with a KV cache;
- :mod:`.memorisation`: :class:`NgramIndex` and how much of the training text samples copy;
- :mod:`.poems`: Tang poems sampled, the unigram floor of the format score, the characters they use;
- :mod:`.mistakes`: the missing causal mask, measured;
- :mod:`.demo` and :mod:`.bench`: the notebooks' settings and the benchmarks.

Characters are tokens through the book's one :class:`aigc_lessons.text.CharTokenizer`.
"""

from ..text import CharTokenizer
from .bench import TARGET_VAL_LOSS, bench_shakespeare, bench_tang, bf16_peak_flops, flops_per_token, seconds_to_target
from .corpora import (
    TextSplits,
    format_failures,
    format_rate,
    get_batch,
    quatrain_ok,
    shakespeare_splits,
    tang_quatrains,
    tang_splits,
)
from .demo import LMDemoConfig
from .memorisation import MemorisationResult, NgramIndex, memorisation, memorisation_curve, plot_memorisation
from .mistakes import causal_mask_mistake, plot_causal_mask_mistake
from .model import GPT, MLP, Block, GPTConfig, copy_to_gpt2, gpt2_twin
from .poems import (
    character_frequencies,
    plot_character_frequencies,
    sample_poems,
    total_variation,
    unigram_format_rate,
)
from .sampling import apply_temperature, generate, generate_text, sample_next, top_k_filter, top_p_filter
from .train import TrainConfig, TrainResult, evaluate, plot_history, train_lm

__all__ = [
    "CharTokenizer", "TextSplits", "shakespeare_splits", "tang_quatrains", "tang_splits", "get_batch",
    "GPTConfig", "MLP", "Block", "GPT", "gpt2_twin", "copy_to_gpt2", "TrainConfig", "TrainResult", "train_lm",
    "evaluate", "apply_temperature", "top_k_filter", "top_p_filter", "sample_next", "generate", "generate_text",
    "NgramIndex", "memorisation", "MemorisationResult", "memorisation_curve", "plot_memorisation",
    "quatrain_ok", "format_rate", "format_failures", "sample_poems", "unigram_format_rate",
    "character_frequencies", "total_variation", "plot_character_frequencies",
    "causal_mask_mistake", "plot_causal_mask_mistake", "plot_history", "LMDemoConfig", "bench_shakespeare", "bench_tang",
    "TARGET_VAL_LOSS", "bf16_peak_flops", "flops_per_token", "seconds_to_target",
]
