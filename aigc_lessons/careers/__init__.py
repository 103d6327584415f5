"""Generative AI and your career, measured: exposure data, the employment join, job search and a classifier.

The data are the occupation- and task-level exposure ratings of Eloundou, Manning, Mishkin and Rock
("GPTs are GPTs", arXiv:2303.10130, Science 2024) joined with BLS OEWS May 2021 national employment and
wages. Every task of an O*NET occupation is labelled

* ``E0``: no exposure: a large language model (LLM) does not cut the time of the task by half or more;
* ``E1``: direct exposure: an LLM through a chat interface cuts the time by half or more;
* ``E2``: exposure through LLM-powered software built on top of the model.

An occupation with tasks :math:`t = 1..n` gets three shares, with weights :math:`w_t = 2` for a core task
and 1 for a supplemental task or one without a type (``TASK_TYPE_WEIGHTS``),

.. math::
    \\alpha = \\frac{\\sum_t w_t [E1_t]}{\\sum_t w_t},\\qquad
    \\beta = \\frac{\\sum_t w_t ([E1_t] + \\tfrac12 [E2_t])}{\\sum_t w_t},\\qquad
    \\gamma = \\frac{\\sum_t w_t ([E1_t] + [E2_t])}{\\sum_t w_t},

rated once by people (``human_rating_*``) and once by GPT-4 (``dv_rating_*``).

The modules of this package:

* :mod:`~aigc_lessons.careers.exposure`: the crosswalk O*NET-SOC -> OEWS codes, with every loss counted,
  the joined table (one row per OEWS occupation, employment counted once) and shares of employment;
* :mod:`~aigc_lessons.careers.headline`: the headline shares, task shares, wages, major groups, extremes,
  and the agreement between human and GPT-4 labels (Cohen's kappa implemented here);
* :mod:`~aigc_lessons.careers.plots`: the figures (``plot_*``);
* :mod:`~aigc_lessons.careers.search`: "where does my job stand?": MiniLM sentence embeddings and the
  nearest occupations, Chinese queries through a glossary;
* :mod:`~aigc_lessons.careers.explorer`: the website's job explorer: every occupation as one offline payload,
  and the keyword search the page runs;
* :mod:`~aigc_lessons.careers.finetune`: fine-tuning MiniLM to predict E0/E1/E2 from a task's text;
* :mod:`~aigc_lessons.careers.experiment`: the fine-tuned model against baselines, and the benchmark;
* :mod:`~aigc_lessons.careers.mistakes`: the common mistakes, each reproduced by a function (``mistake_*``).

Every public name of these modules is importable from ``aigc_lessons.careers`` itself.
"""

from ..pretrained import Encoder, mean_pool
from .experiment import (RECORD_KEYS, FinetuneReport, bench_finetune, classification_metrics, frozen_logreg_baseline,
                         leads, majority_baseline, occupation_bootstrap, run_finetune_experiment)
from .exposure import (HOURS_PER_YEAR, LABELS, MEASURES, OEWS_TOP_CODE_ANNUAL, PUBLISHED_HEADLINE,
                       PUBLISHED_TASK_SHARES, RATERS, TASK_LABEL_COLUMNS, Crosswalk, JoinedTable, build_crosswalk,
                       exposure_table, label_ids, onet_to_soc, rating_column, share_of_employment)
from .explorer import (HISTOGRAM_BINS, employment_percentile, explorer_payload, keyword_search, query_tokens,
                       title_tokens, write_explorer_script)
from .finetune import (ExposureClassifier, FinetuneConfig, FinetuneResult, TaskFeatures, TaskSplit, encode_features,
                       grouped_split, predict_labels, train_exposure_classifier)
from .headline import (Agreement, HeadlineResult, WageResult, by_major_group, cohen_kappa, exposure_curve, extremes,
                       headline_grid, label_agreement, macro_f1, occupation_level_check, personal_exposure,
                       TASK_TYPE_WEIGHTS, reproduce_headline, task_shares, wage_exposure)
from .mistakes import mistake_chinese_query, mistake_double_count, mistake_inner_join
from .plots import (plot_exposure_curve, plot_exposure_distribution, plot_exposure_vs_wage, plot_extremes,
                    plot_major_groups, plot_model_comparison, plot_similarity_calibration)
from .search import (EXAMPLE_QUERIES, MIN_SIMILARITY, NONSENSE_QUERIES, ZH_EN_GLOSSARY, ZH_EXAMPLE_QUERIES, JobMatch,
                     OccupationIndex, best_similarities, build_occupation_index, embed_texts, job_widget,
                     occupation_documents, search_accuracy, search_jobs, translate_query)

__all__ = [
    "RATERS", "TASK_LABEL_COLUMNS", "MEASURES", "LABELS", "PUBLISHED_HEADLINE", "PUBLISHED_TASK_SHARES",
    "OEWS_TOP_CODE_ANNUAL", "HOURS_PER_YEAR",
    "onet_to_soc", "Crosswalk", "build_crosswalk", "JoinedTable", "exposure_table", "rating_column", "label_ids",
    "share_of_employment", "headline_grid", "HeadlineResult", "reproduce_headline", "exposure_curve",
    "WageResult", "wage_exposure", "by_major_group", "extremes", "occupation_level_check", "TASK_TYPE_WEIGHTS", "task_shares",
    "personal_exposure", "cohen_kappa", "macro_f1", "Agreement", "label_agreement",
    "plot_exposure_distribution", "plot_exposure_curve", "plot_exposure_vs_wage", "plot_major_groups",
    "plot_extremes",
    "Encoder", "mean_pool", "embed_texts", "occupation_documents", "OccupationIndex",
    "build_occupation_index", "ZH_EN_GLOSSARY", "translate_query", "MIN_SIMILARITY", "JobMatch", "search_jobs",
    "EXAMPLE_QUERIES", "ZH_EXAMPLE_QUERIES", "NONSENSE_QUERIES", "search_accuracy", "job_widget",
    "best_similarities", "plot_similarity_calibration", "plot_model_comparison",
    "FinetuneConfig", "TaskSplit", "grouped_split", "TaskFeatures", "encode_features", "ExposureClassifier",
    "FinetuneResult", "train_exposure_classifier", "predict_labels", "classification_metrics", "majority_baseline",
    "frozen_logreg_baseline", "occupation_bootstrap", "FinetuneReport", "run_finetune_experiment", "bench_finetune",
    "leads", "RECORD_KEYS", "mistake_double_count", "mistake_inner_join", "mistake_chinese_query",
    "HISTOGRAM_BINS", "employment_percentile", "explorer_payload", "keyword_search", "query_tokens", "title_tokens",
    "write_explorer_script",
]
