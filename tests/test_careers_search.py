"""Chapter 5 "where does my job stand?": MiniLM embeddings, nearest occupations, bad input, Chinese."""

import pytest
import torch

from aigc_lessons import careers
from aigc_lessons.data import load_occupations


@pytest.fixture(scope="module")
def data(mirror):
    return load_occupations()


@pytest.fixture(scope="module")
def encoder():
    return careers.load_encoder("cpu")


@pytest.fixture(scope="module")
def index(data, encoder):
    return careers.build_occupation_index(data, encoder, progress=False)


def test_mean_pool_ignores_padding_and_is_unit_length():
    torch.manual_seed(0)
    h = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    out = careers.mean_pool(h, mask)
    expected0 = h[0, :2].mean(0)
    assert torch.allclose(out[0], expected0 / expected0.norm(), atol=1e-6)
    h2 = h.clone()
    h2[0, 2:] = 1e3  # changing padded positions changes nothing
    assert torch.allclose(careers.mean_pool(h2, mask), out)
    assert torch.allclose(out.norm(dim=-1), torch.ones(2))
    with pytest.raises(ValueError, match="expects"):
        careers.mean_pool(h, mask[:, :3])


def test_embeddings_do_not_depend_on_batching(encoder):
    texts = ["Software Developers", "I write news articles for a newspaper and interview people", "Nurse"]
    together = careers.embed_texts(texts, encoder)
    alone = torch.cat([careers.embed_texts([t], encoder) for t in texts])
    assert together.shape == (3, 384)
    assert torch.allclose(together, alone, atol=1e-5)
    with pytest.raises(TypeError):
        careers.embed_texts(["ok", 3], encoder)


def test_index_is_cached_atomically_and_reused(data, encoder, index):
    assert index.embeddings.shape == (923, 384)
    assert index.cache_path is not None and index.cache_path.exists()
    again = careers.build_occupation_index(data, encoder, progress=False)
    assert again.from_cache and torch.equal(again.embeddings, index.embeddings)


@pytest.mark.parametrize("title", ["Software Developers", "Registered Nurses", "Lawyers", "Economists",
                                   "Interpreters and Translators", "Heavy and Tractor-Trailer Truck Drivers"])
def test_known_titles_map_to_their_own_occupation(data, encoder, index, title):
    r = careers.search_jobs(title, index, encoder, data, k=3)
    assert r.matches["title"].iloc[0] == title
    assert r.confident
    assert len(r.tasks) > 0 and set(r.tasks["human"]) <= set(careers.LABELS)


def test_news_writer_lands_on_reporters_or_writers(data, encoder, index):
    r = careers.search_jobs("I write news articles for a newspaper", index, encoder, data)
    assert r.matches["onet_code"].iloc[0] in {"27-3023.00", "27-3043.00"}
    assert "News Analysts, Reporters, and Journalists" in r.message
    assert 0.0 <= r.exposure["human_beta"] <= 1.0


def test_example_descriptions_mostly_find_an_acceptable_occupation(data, encoder, index):
    acc = careers.search_accuracy(careers.EXAMPLE_QUERIES, index, encoder, data, k=3)
    assert acc["top3"].mean() >= 0.7
    assert acc["confident"].all()
    assert acc["similarity"].min() >= careers.MIN_SIMILARITY


def test_empty_input_raises_with_a_clear_message(data, encoder, index):
    for bad in ["", "   \n"]:
        with pytest.raises(ValueError, match="describe your job"):
            careers.search_jobs(bad, index, encoder, data)
    with pytest.raises(TypeError, match="string"):
        careers.search_jobs(None, index, encoder, data)
    with pytest.raises(ValueError, match="k must be"):
        careers.search_jobs("nurse", index, encoder, data, k=0)


def test_nonsense_gets_a_not_confident_message(data, encoder, index):
    for nonsense in careers.NONSENSE_QUERIES:
        r = careers.search_jobs(nonsense, index, encoder, data)
        assert not r.confident, nonsense
        assert "No occupation matches confidently" in r.message
    sims = careers.best_similarities(careers.NONSENSE_QUERIES, index, encoder)
    assert sims.max() < careers.MIN_SIMILARITY


def test_translate_query_uses_longest_glossary_terms():
    text, coverage, used = careers.translate_query("我是软件工程师")
    assert used == ["软件工程师"] and "software developer" in text
    assert coverage == pytest.approx(5 / 7)
    assert careers.translate_query("nurse") == ("nurse", 1.0, [])


def test_mistake_chinese_query_symptom_and_fix(data, encoder, index):
    m = careers.mistake_chinese_query(index, encoder, data)
    # symptom: most Chinese characters are [UNK] for MiniLM, and no query finds its occupation
    assert m["unk_share_raw"] > 0.5 and m["top3_raw"] == 0.0 and m["confident_raw"] == 0.0
    # fix: the glossary turns job titles into English first
    assert m["top3_glossary"] >= 0.9 and m["unk_share_glossary"] == 0.0
    r = careers.search_jobs("我喜欢吃苹果", index, encoder, data)  # "I like eating apples": not covered
    assert not r.confident and "could not read" in r.message


def test_widget_builds(data, encoder, index):
    w = careers.job_widget(index, encoder, data)
    assert w is not None and len(w.children) == 2
