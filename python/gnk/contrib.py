"""tf.contrib preset: tf.contrib.layers.group_norm (TensorFlow 1.x).

    gnk.contrib.group_norm(x, groups=32, channels_axis=-1, reduction_axes=(-3, -2),
                           center=True, scale=True, epsilon=1e-6, activation_fn=None,
                           mean_close_to_zero=False, gamma=None, beta=None)

Semantics (tensorflow/contrib/layers/python/layers/normalization.py, r1.15): contiguous
groups on `channels_axis`; statistics over the group's channels plus `reduction_axes`
only, every other axis (batch included) keeping its own statistics; two-pass variance,
or with mean_close_to_zero=True the sufficient statistics E[x^2] - mean^2 (unclamped).
gamma/beta (C values, the layer's variables, in x's dtype; None = ones / zeros) are
ignored when scale / center is False. activation_fn: None, "relu", "silu"/"swish",
"gelu", "gelu_tanh" (fused into the kernel) or any callable (applied to the result).

Differences: statistics are accumulated in double (TF accumulates
mean_close_to_zero's sums in the input dtype); gnk keeps axis 0 as the batch axis, so
channels_axis or reduction_axes on axis 0 raise gnk.GnkError (TF accepts them).
Errors: TF's checks with its messages (gnk.GnkError instead of ValueError).
"""

import numpy as np

from . import _lib as L
from ._api import _error
from ._general import ACTIVATIONS, general_group_norm

__all__ = ["group_norm"]


def _eps_in(epsilon, dtype):
    """epsilon as TF adds it: converted to the variance's dtype (x's dtype)."""
    try:
        return float(np.asarray(epsilon).astype(dtype))
    except (TypeError, ValueError):
        return float(epsilon)


def group_norm(x, groups=32, channels_axis=-1, reduction_axes=(-3, -2), center=True,
               scale=True, epsilon=1e-6, activation_fn=None, mean_close_to_zero=False,
               gamma=None, beta=None):
    """tf.contrib.layers.group_norm with the layer's variables gamma/beta."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    ndims = x.ndim
    if channels_axis > ndims - 1 or channels_axis < -ndims:
        raise _error(L.Status.ERR_BAD_AXIS, "Axis is out of bounds.")
    if channels_axis < 0:
        channels_axis = ndims + channels_axis
    channels = x.shape[channels_axis]
    red = list(reduction_axes)
    for i in range(len(red)):
        if red[i] < 0:
            red[i] += ndims
    for a in red:
        if a >= ndims or a < 0:  # TF checks a > ndims, then fails indexing the shape
            raise _error(L.Status.ERR_BAD_AXIS, "Axis is out of bounds.")
        if channels_axis == a:
            raise _error(L.Status.ERR_BAD_AXIS,
                         "reduction_axis must be mutually exclusive with channels_axis")
    if groups > channels:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     "Invalid groups %d for %d channels." % (groups, channels))
    if groups <= 0:
        raise _error(L.Status.ERR_BAD_GROUPS, "groups (%d) must be positive" % groups)
    if channels % groups != 0:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     "%d channels is not commensurate with %d groups." % (channels, groups))
    if channels_axis == 0 or 0 in red:
        raise _error(L.Status.ERR_BAD_AXIS,
                     "gnk keeps axis 0 as the batch axis: channels_axis and reduction_axes "
                     "must not name it")
    fused = activation_fn if (activation_fn is None or isinstance(activation_fn, str)) else None
    if isinstance(fused, str) and fused.lower() not in ACTIVATIONS:
        raise _error(L.Status.ERR_BAD_ACTIVATION,
                     f"unknown activation_fn {activation_fn!r} (expected None, a callable or "
                     "one of 'relu', 'silu', 'swish', 'gelu', 'gelu_tanh')")
    gm = gamma if scale else None
    bt = beta if center else None
    # The variables have the input's dtype (model_variable(dtype=inputs.dtype)).
    pdt = x.dtype if any(v is not None for v in (gm, bt)) else None
    y = general_group_norm(x, groups, axis=channels_axis, reduce_axes=red, gamma=gm, beta=bt,
                           eps=_eps_in(epsilon, x.dtype), act=fused,
                           variance="sumsq" if mean_close_to_zero else "accurate",
                           param_dtype=pdt)
    if activation_fn is not None and fused is None:
        y = activation_fn(y)
    return y
