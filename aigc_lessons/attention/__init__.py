"""Chapter 4, attention: self-attention from its formula up to a real pretrained model.

The chapter in files a reader can hold in their head:

- :mod:`.core`: masks, :func:`~aigc_lessons.attention.core.scaled_dot_product_attention`,
  :class:`~aigc_lessons.attention.core.MultiHeadAttention` with its KV cache
  (:class:`~aigc_lessons.attention.core.LayerCache`), positional encodings and the
  :math:`\\sqrt{d_k}` scaling experiment;
- :mod:`.cost`: time and peak memory of the naive and the fused kernel as the length grows;
- :mod:`.minilm`: all-MiniLM-L6-v2 opened up (attentions, a layer recomputed, maps, embeddings);
- :mod:`.fusion`: attention over two modalities (an image and a caption);
- :mod:`.mistakes`: the sqrt(d_k) and padding-polarity mistakes, measured;
- :mod:`.demo`: the settings of notebook 06.

Every public name is re-exported here (``from aigc_lessons import attention as A; A.MultiHeadAttention``).
The small GPT built on this attention lives in :mod:`aigc_lessons.lm`; the MiniLM loader in
:mod:`aigc_lessons.pretrained`.
"""

from . import core, cost, demo, fusion, minilm, mistakes
from .core import (
    Kernel,
    LayerCache,
    MultiHeadAttention,
    causal_mask,
    combine_masks,
    padding_mask,
    plot_scaling_experiment,
    rotary_embedding,
    scaled_dot_product_attention,
    scaling_experiment,
    sinusoidal_encoding,
)
from .cost import attention_cost, plot_attention_cost
from .demo import AttentionDemoConfig
from .fusion import (
    DIGIT_NAMES,
    FUSION_CONDITIONS,
    FusionConfig,
    FusionResult,
    plot_fusion_weights,
    train_fusion,
)
from .minilm import (
    MiniLMReproduction,
    minilm_attentions,
    minilm_layer_from_scratch,
    plot_attention_maps,
    plot_weight_matrices,
    sentence_embeddings,
)
from .mistakes import padding_polarity_mistake, unscaled_attention_mistake

# every public name of the sub-modules, as ``from aigc_lessons import attention as A; A.<name>``
__all__ = [*core.__all__, *cost.__all__, *minilm.__all__, *demo.__all__, *fusion.__all__, *mistakes.__all__]
