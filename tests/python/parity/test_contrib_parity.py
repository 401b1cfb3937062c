"""gnk.contrib vs tf.contrib.layers.group_norm (TF 1.x), through contrib_reference.py: a
line-by-line numpy port of the TF source (TF 1.x cannot be installed on Python 3.11).
When TensorFlow 2 imports, the port itself is checked against the same body written
with TF's own ops (tf.nn.moments, tf.nn.sufficient_statistics, ...)."""
import numpy as np
import pytest

import contrib_reference as ref
import gnk
from parity_util import DTYPES, F32, assert_close, data, dtype_id, need, params

# (shape, groups, channels_axis, reduction_axes)
CASES = [
    ((2, 5, 6, 8), 4, -1, (-3, -2)),        # NHWC defaults
    ((2, 8, 5, 6), 4, -3, (-2, -1)),        # NCHW usage from the docstring
    ((2, 3, 4, 5, 8), 2, -1, (-3, -2)),     # NDHWC defaults: separate statistics per depth
    ((2, 3, 4, 5, 8), 2, -1, (-4, -3, -2)), # all spatial axes
    ((2, 8, 3, 4, 5), 8, 1, (3, 4)),        # G = C, depth kept
    ((3, 7, 6), 1, -1, (-2,)),              # rank 3, G = 1
    ((3, 7, 6), 3, -1, ()),                 # no reduction axis: per position
    ((4, 12), 3, -1, ()),                   # rank 2
    ((2, 1, 1, 16), 4, -1, (-3, -2)),       # spatial size 1
    ((2, 4, 6, 3, 2), 3, 2, (1, 4)),        # channel axis in the middle, kept axis after it
]


def _case_id(c):
    return f"{c[0]}g{c[1]}ca{c[2]}r{''.join(str(a) for a in c[3]) or 'none'}"


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("mean_close_to_zero", [False, True], ids=["moments", "sufficient"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_group_norm(case, mean_close_to_zero, dtype):
    shape, groups, channels_axis, red = case
    x = data(shape, dtype, seed=sum(shape) + groups, scale=1.5, shift=0.2)
    c = shape[channels_axis]
    gamma, beta = params(c, seed=c, dtype=dtype)
    kw = dict(groups=groups, channels_axis=channels_axis, reduction_axes=red,
              mean_close_to_zero=mean_close_to_zero, gamma=gamma, beta=beta)
    got = gnk.contrib.group_norm(x, **kw)
    assert got.dtype == x.dtype
    trace = {}
    if dtype != F32 and mean_close_to_zero:
        # TF accumulates the sufficient statistics of 16-bit inputs in that dtype, where
        # E[x^2] - mean^2 cancels to garbage (or NaN) for small groups; gnk accumulates in
        # double (documented difference): compared with the same formulas in float32.
        kw32 = dict(kw, gamma=gamma.astype(F32), beta=beta.astype(F32))
        want = ref.group_norm(x.astype(F32), trace=trace, **kw32).astype(dtype)
    else:
        want = ref.group_norm(x, trace=trace, **kw)
    # The port (like TF) folds the normalization into inputs * gain + offset in x's dtype:
    # its rounding scales with |inputs * gain| + |mean * gain| (trace["mag"]).
    assert_close(got.astype(np.float32), want.astype(np.float32), dtype, str(case),
                 mag=trace["mag"])


@pytest.mark.parametrize("act", ["relu", "silu", "gelu", "gelu_tanh"])
def test_activation(act):
    x = data((2, 4, 5, 8), F32, seed=3)
    gamma, beta = params(8, seed=3)
    want = ref.group_norm(x, groups=4, activation_fn=act, gamma=gamma, beta=beta)
    got = gnk.contrib.group_norm(x, groups=4, activation_fn=act, gamma=gamma, beta=beta)
    assert_close(got, want, F32, act)
    got_callable = gnk.contrib.group_norm(x, groups=4, activation_fn=ref.ACTIVATIONS[act],
                                          gamma=gamma, beta=beta)
    assert_close(got_callable, want, F32, act + " (callable)")


@pytest.mark.parametrize("center,scale", [(False, True), (True, False), (False, False)])
def test_center_scale(center, scale):
    x = data((2, 4, 5, 8), F32, seed=4)
    gamma, beta = params(8, seed=4)
    kw = dict(groups=2, center=center, scale=scale, gamma=gamma, beta=beta, epsilon=1e-3)
    assert_close(gnk.contrib.group_norm(x, **kw), ref.group_norm(x, **kw), F32, "center/scale")


ERRORS = [  # (shape, groups, channels_axis, reduction_axes)
    ((2, 4, 4, 8), 4, 4, (-3, -2)),     # channels axis out of bounds
    ((2, 4, 4, 8), 4, -1, (5,)),        # reduction axis out of bounds
    ((2, 4, 4, 8), 4, -1, (4,)),
    ((2, 4, 4, 8), 4, -1, (-1, -2)),    # reduction axes overlap the channel axis
    ((2, 4, 4, 8), 16, -1, (-3, -2)),   # groups > channels
    ((2, 4, 4, 8), 3, -1, (-3, -2)),    # not commensurate
]


@pytest.mark.parametrize("shape,groups,channels_axis,red", ERRORS, ids=[str(e) for e in ERRORS])
def test_errors(shape, groups, channels_axis, red):
    x = np.zeros(shape, np.float32)
    kw = dict(groups=groups, channels_axis=channels_axis, reduction_axes=red)
    with pytest.raises(ref.ContribError) as fw:
        ref.group_norm(x, **kw)
    with pytest.raises(gnk.GnkError) as ours:
        gnk.contrib.group_norm(x, **kw)
    assert str(ours.value) == str(fw.value)


def test_batch_axis_refused():
    """TF would reduce over the batch axis; gnk keeps axis 0 as the batch axis."""
    with pytest.raises(gnk.GnkError, match="batch axis"):
        gnk.contrib.group_norm(np.zeros((2, 4, 8), np.float32), groups=2,
                               reduction_axes=(0, 1))


@pytest.mark.parametrize("mean_close_to_zero", [False, True])
@pytest.mark.parametrize("case", CASES[:6], ids=[_case_id(c) for c in CASES[:6]])
def test_port_matches_tensorflow_ops(case, mean_close_to_zero):
    """The numpy port against the same body on TensorFlow 2's own ops."""
    tf = need("tensorflow")
    shape, groups, channels_axis, red = case
    x = data(shape, F32, seed=sum(shape))
    gamma, beta = params(shape[channels_axis], seed=1)
    kw = dict(groups=groups, channels_axis=channels_axis, reduction_axes=red,
              mean_close_to_zero=mean_close_to_zero, gamma=gamma, beta=beta,
              activation_fn="gelu")
    assert_close(ref.group_norm(x, **kw), ref.tf_group_norm(tf, x, **kw), F32, "port vs TF")


@pytest.mark.parametrize("shape", [(0, 4, 5, 8), (2, 0, 5, 8)])
def test_empty(shape):
    x = np.zeros(shape, np.float32)
    import warnings
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy: mean of an empty slice
        want = ref.group_norm(x, groups=4)
    got = gnk.contrib.group_norm(x, groups=4)
    assert got.shape == want.shape and got.dtype == want.dtype
