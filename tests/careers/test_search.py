"""Chapter 5 "where does my job stand?": MiniLM embeddings, the cached index, nearest occupations, bad input.

The index is cached under a temporary ``AIGC_DATA_DIR`` (the session's, or the test's own), never in a
reader's real cache.
"""

import pytest
import torch

from aigc_lessons import careers
from aigc_lessons.careers import search
from aigc_lessons.data import Occupations


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


def test_occupation_documents_are_titles_then_core_tasks(data):
    codes, titles, docs = careers.occupation_documents(data, n_tasks=2)
    assert codes == data.occupations["O*NET-SOC Code"].tolist() and len(docs) == 923
    t = data.tasks[(data.tasks["O*NET-SOC Code"] == "27-3023.00") & (data.tasks["Task Type"] != "Supplemental")]
    i = codes.index("27-3023.00")
    assert docs[i] == titles[i] + ". " + " ".join(t["Task"].tolist()[:2])
    assert careers.occupation_documents(data, n_tasks=0)[2] == titles


def test_index_cache_miss_then_hit(data, encoder, index, tmp_path, monkeypatch):
    assert index.embeddings.shape == (923, 384)
    # 20 occupations in an empty cache of this test's own: the first build misses, the second hits
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    occupations = data.occupations.head(20)
    few = Occupations(occupations=occupations, oews=data.oews,
                      tasks=data.tasks[data.tasks["O*NET-SOC Code"].isin(occupations["O*NET-SOC Code"])])
    assert not list(tmp_path.rglob("*.pt"))
    miss = careers.build_occupation_index(few, encoder, progress=False)
    assert not miss.from_cache and miss.cache_path.is_relative_to(tmp_path)
    assert miss.cache_path.exists() and set(tmp_path.rglob("*")) == {miss.cache_path.parent, miss.cache_path}
    assert torch.allclose(miss.embeddings, index.embeddings[:20], atol=1e-5)  # the same vectors as in the full index
    hit = careers.build_occupation_index(few, encoder, progress=False)
    assert hit.from_cache and hit.cache_path == miss.cache_path
    assert torch.equal(hit.embeddings, miss.embeddings) and hit.codes == miss.codes == index.codes[:20]


def test_index_cache_key_holds_the_code_hash(data, encoder, index, tmp_path, monkeypatch):
    # the session index is in the session's cache: asking again is a hit
    again = careers.build_occupation_index(data, encoder, progress=False)
    assert again.from_cache and again.cache_path == index.cache_path
    # changed code that builds the index: another cache file, so the old entry is not reused
    monkeypatch.setenv("AIGC_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(search, "code_hash", lambda *objects, **kw: "changed-code")
    calls = []
    monkeypatch.setattr(search, "embed_texts", lambda docs, *a, **kw: calls.append(len(docs)) or index.embeddings)
    fresh = careers.build_occupation_index(data, encoder, progress=False)
    assert not fresh.from_cache and calls == [923]
    assert fresh.cache_path.name != index.cache_path.name


@pytest.mark.parametrize("title", ["Software Developers", "Registered Nurses", "Lawyers", "Economists",
                                   "Interpreters and Translators", "Heavy and Tractor-Trailer Truck Drivers"])
def test_known_titles_map_to_their_own_occupation(data, encoder, index, title):
    r = careers.search_jobs(title, index, encoder, data, k=3)
    assert r.matches["title"].iloc[0] == title
    assert r.confident
    assert len(r.tasks) > 0 and set(r.tasks["human"]) <= set(careers.LABELS)
    own = data.tasks[data.tasks["O*NET-SOC Code"] == r.matches["onet_code"].iloc[0]]
    assert r.tasks["Task"].tolist() == own["Task"].tolist()
    assert r.tasks["human"].tolist() == own["human_exposure_agg"].tolist()


def test_news_writer_lands_on_reporters_or_writers(data, encoder, index):
    r = careers.search_jobs("I write news articles for a newspaper", index, encoder, data)
    assert r.matches["onet_code"].iloc[0] in {"27-3023.00", "27-3043.00"}
    assert "News Analysts, Reporters, and Journalists" in r.message
    # the exposure shown is the best match's row of occ_level.csv, all six ratings
    occ = data.occupations.set_index("O*NET-SOC Code").loc[r.matches["onet_code"].iloc[0]]
    for rater in careers.RATERS:
        for measure in careers.MEASURES:
            column = careers.rating_column(rater, measure)
            assert r.exposure[f"{rater}_{measure}"] == pytest.approx(float(occ[column]))
    assert f"{r.exposure['human_beta']:.0%}" in r.message


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


def test_widget_builds(data, encoder, index):
    w = careers.job_widget(index, encoder, data)
    assert w is not None and len(w.children) == 2
