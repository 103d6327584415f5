"""What attention costs (aigc_lessons.attention.cost): the naive kernel's memory grows like n^2."""

from aigc_lessons import attention as A


def test_attention_cost_naive_memory_grows_quadratically_fused_does_not():
    df = A.attention_cost((128, 256), repeats=1)
    assert set(df.columns) >= {"n", "kernel", "ms", "peak_mib", "device"}
    naive = df[df.kernel == "naive"].set_index("n").peak_mib
    fused = df[df.kernel == "sdpa"].set_index("n").peak_mib
    assert 3.0 < naive[256] / naive[128] < 5.0          # the (n, n) matrices: 4x for 2x length
    assert fused[256] < 0.1 * naive[256]
    assert (df.ms > 0).all()
