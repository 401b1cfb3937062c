"""GNK_MAX_ISA caps the planner: every ISA level computes the same GroupNorm."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gnk
from reference import ref_group_norm

PROBLEMS = [((2, 320, 16, 16), 32, "nchw", "silu"), ((2, 9, 9, 320), 32, "nhwc", None),
            ((1, 17, 5), 17, "nchw", "relu"), ((3, 7, 33), 11, "nhwc", "silu"),
            ((2, 64, 13), 32, "nchw", None)]

CHILD = r"""
import sys, numpy as np, gnk
out = sys.argv[1]
res = {"isa": np.array(gnk.cpu_isa())}
for i, (shape, G, layout, act) in enumerate(PROBLEMS):
    x = np.random.default_rng(i).standard_normal(shape).astype(np.float32)
    C = shape[1] if layout == "nchw" else shape[-1]
    gamma = np.linspace(-1, 2, C, dtype=np.float32)
    res[f"y{i}"] = gnk.group_norm(x, G, gamma, None, layout=layout, act=act)
    res[f"k{i}"] = np.array(gnk.kernel_name(shape, G, layout, act))
np.savez(out, **res)
"""

ORDER = ["scalar", "avx2", "avx512", "avx512bf16"]


@pytest.mark.parametrize("cap", ORDER)
def test_max_isa(cap, tmp_path):
    env = dict(os.environ, GNK_MAX_ISA=cap,
               PYTHONPATH=os.pathsep.join([str(Path(gnk.__file__).parents[1]),
                                           os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "res.npz"
    code = f"PROBLEMS = {PROBLEMS!r}\n" + CHILD
    r = subprocess.run([sys.executable, "-c", code, str(out)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    res = np.load(out)
    host = gnk.cpu_isa()
    expect_isa = ORDER[min(ORDER.index(cap), ORDER.index(host))]
    assert str(res["isa"]) == expect_isa
    for i, (shape, G, layout, act) in enumerate(PROBLEMS):
        name = str(res[f"k{i}"])
        assert name.startswith("gnk_f32_")
        kisa = next(k["isa"] for k in gnk.kernels() if k["name"] == name)
        assert ORDER.index(kisa) <= ORDER.index(expect_isa), name
        x = np.random.default_rng(i).standard_normal(shape).astype(np.float32)
        C = shape[1] if layout == "nchw" else shape[-1]
        gamma = np.linspace(-1, 2, C, dtype=np.float32)
        np.testing.assert_allclose(res[f"y{i}"],
                                   ref_group_norm(x, G, gamma, None, 1e-5, layout, act),
                                   rtol=1e-5, atol=1e-5, err_msg=f"{cap} {name}")
