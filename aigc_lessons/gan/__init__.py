"""Generative adversarial networks, from the minimax game to a DCGAN on MNIST.

The chapter's code, in the order the book uses it, one file per part:

1. **Losses** (:mod:`~aigc_lessons.gan.losses`, :data:`losses`): the saturating and non-saturating
   GAN losses, least squares, Wasserstein and hinge, each written once; :func:`gradient_penalty`
   and :func:`clip_weights` for the two ways of keeping a Wasserstein critic 1-Lipschitz.
2. **Theory in one dimension** (:mod:`~aigc_lessons.gan.theory`): :func:`value_function`,
   :func:`optimal_discriminator` and :func:`jensen_shannon` by quadrature on a grid, and
   :func:`train_discriminator_1d`, a real discriminator trained on samples that should approach
   :math:`D^*`.
3. **Mode collapse in two dimensions** (:mod:`~aigc_lessons.gan.toy2d`,
   :mod:`~aigc_lessons.gan.study2d`): the ring and grid mixtures (:func:`ring_mixture`,
   :func:`grid_mixture`), MLP GANs trained by :func:`train_gan_2d` under five methods
   (:data:`METHODS_2D`), and :func:`compare_methods_2d` for the table over seeds.
4. **DCGAN on MNIST** (:mod:`~aigc_lessons.gan.dcgan`): :class:`DCGenerator`,
   :class:`DCDiscriminator`, :func:`check_shapes`, :func:`train_dcgan` and :func:`generate_images`
   (scored by :mod:`aigc_lessons.metrics`).
5. **Common mistakes** (:mod:`~aigc_lessons.gan.mistakes`), each reproduced by a function that
   measures its symptom and its fix: :func:`mistake_detached_fake`, :func:`mistake_wrong_output_size`,
   :func:`mistake_max_over_both_players`, :func:`mistake_d_as_density`.
6. **Benchmarks** :func:`bench_2d` and :func:`bench_mnist` for ``python -m aigc_lessons.bench``.

Training functions take a configuration dataclass (quick and full values side by side in
``Config.for_mode``) and return a result dataclass; they resume exactly from an atomic checkpoint
(:func:`aigc_lessons.checkpoint.save_training` and :func:`aigc_lessons.checkpoint.resume_training`).
"""

# in reading order, which the API reference follows
from .losses import GanLoss, clip_weights, generator_logit_gradient, get_loss, gradient_penalty, losses, r1_penalty
from .theory import (MLP, P_DATA_1D, P_G_1D, Disc1DConfig, Disc1DResult, Gaussian1D, jensen_shannon,
                     kl_divergence, optimal_discriminator, quadrature_grid, train_discriminator_1d, value_function)
from .toy2d import (METHODS_2D, Gan2DConfig, Gan2DResult, Method2D, Mixture2D, build_gan_2d, discriminator_step,
                    generator_step, get_mixture, grid_mixture, ring_mixture, train_gan_2d)
from .study2d import (TARGETS_2D, Study2DConfig, Study2DResult, bench_2d, compare_methods_2d, plot_snapshots_2d,
                      readable_table, record_runs, selection_score, table_row, train_many_2d)
from .dcgan import (DCDiscriminator, DCGANConfig, DCGANResult, DCGenerator, ShapeMismatchError, bench_mnist,
                    check_shapes, default_checkpoint_path, generate_images, to_unit, train_and_score, train_dcgan)
from .mistakes import (MAX_OVER_BOTH_PLAYERS, mistake_d_as_density, mistake_detached_fake,
                       mistake_max_over_both_players, mistake_wrong_output_size)

__all__ = [
    # losses
    "GanLoss", "losses", "get_loss", "gradient_penalty", "r1_penalty", "clip_weights", "generator_logit_gradient",
    # theory
    "Gaussian1D", "P_DATA_1D", "P_G_1D", "quadrature_grid", "value_function", "optimal_discriminator",
    "kl_divergence", "jensen_shannon", "MLP", "Disc1DConfig", "Disc1DResult", "train_discriminator_1d",
    # toy2d
    "Mixture2D", "ring_mixture", "grid_mixture", "get_mixture", "Method2D", "METHODS_2D", "Gan2DConfig",
    "Gan2DResult", "discriminator_step", "generator_step", "build_gan_2d", "train_gan_2d",
    # study2d
    "Study2DConfig", "Study2DResult", "TARGETS_2D", "selection_score", "table_row", "readable_table", "record_runs", "train_many_2d",
    "compare_methods_2d", "plot_snapshots_2d", "bench_2d",
    # dcgan
    "ShapeMismatchError", "DCGenerator", "DCDiscriminator", "check_shapes", "to_unit", "DCGANConfig",
    "DCGANResult", "default_checkpoint_path", "train_dcgan", "generate_images", "train_and_score",
    "bench_mnist",
    # mistakes
    "MAX_OVER_BOTH_PLAYERS", "mistake_detached_fake", "mistake_wrong_output_size",
    "mistake_max_over_both_players", "mistake_d_as_density",
]
