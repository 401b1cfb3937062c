"""Keras preset: keras.layers.GroupNormalization (Keras 3, and tf.keras 2.15+ for masks),
plus R keras3's layer_group_normalization (1-based axes).

    gnk.keras.group_normalization(x, groups=32, axis=-1, epsilon=1e-3, center=True,
                                  scale=True, gamma=None, beta=None, mask=None)
    gnk.keras.layer_group_normalization(x, groups=32, axis=-1, epsilon=0.001, center=True,
                                        scale=True, gamma=None, beta=None, mask=None)

Semantics (keras/src/layers/normalization/group_normalization.py): contiguous groups on
`axis` (an int, negative from the end), statistics over every axis but the batch axis 0
and the group, biased two-pass variance, `groups=-1` = one group per channel. gamma/beta
are the layer's weights (C values; None = ones / zeros); `scale=False` ignores gamma and
`center=False` ignores beta. float16/bfloat16 input is computed in float32 and cast back
(Keras 3.7+): the result has x's dtype, as from a layer whose dtype policy is x's dtype
(under Keras' default float32 policy the layer returns the same values as float32).

mask: tf.keras 2's mask semantics (Keras 3 ignores masks): broadcast to x's shape and
used as frequency weights, W = sum w, mean = sum(w x)/W, var = sum(w (x-mean)^2)/W with
0/0 := 0; masked positions are still normalized.

Errors: Keras' own checks with its messages (gnk.GnkError). gnk also refuses a channel
axis on the batch axis (axis 0 / -rank), which Keras silently mis-normalizes. Empty
tensors as in Keras 3: an empty batch gives an empty result; a zero-size axis other than
the batch and channel axes is an error (Keras' reshape to (-1, ...) divides by zero).
"""

import numpy as np

from . import _lib as L
from ._api import _F32, _error
from ._general import general_group_norm

__all__ = ["group_normalization", "layer_group_normalization"]


def _validate(x, groups, axis):
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or (
            groups <= 0 and groups != -1):
        raise _error(L.Status.ERR_BAD_GROUPS,
                     "Received an invalid value for argument `groups`, expected a positive "
                     "integer (or `-1` for instance normalization). "
                     f"Received: groups={groups}")
    rank = x.ndim
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise _error(L.Status.ERR_BAD_AXIS,
                     f"gnk supports one integer channel axis; received: axis={axis!r}")
    if axis >= rank or axis < -rank:
        raise _error(L.Status.ERR_BAD_AXIS,
                     f"Axis {axis} is out of bounds for input shape {x.shape}. "
                     f"Received: axis={axis}")
    dim = x.shape[axis]
    g = dim if groups == -1 else int(groups)
    if dim < g:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     f"Number of groups ({g}) cannot be more than the number of channels "
                     f"({dim}).")
    if g == 0 or dim % g != 0:
        raise _error(L.Status.ERR_GROUPS_NOT_DIVISOR,
                     f"Number of groups ({g}) must be a multiple of the number of channels "
                     f"({dim}).")
    if rank < 2:
        raise _error(L.Status.ERR_BAD_RANK,
                     f"gnk needs a batch axis and a channel axis (rank >= 2); got input of "
                     f"shape {x.shape}")
    if axis % rank == 0:
        raise _error(L.Status.ERR_BAD_AXIS,
                     f"Axis {axis} is the batch axis of input shape {x.shape}: gnk keeps axis 0 "
                     "as the batch axis")
    zero = [i for i in range(1, rank) if i != axis % rank and x.shape[i] == 0]
    if zero:  # Keras reshapes to (-1, ..., groups, dim // groups): -1 over a 0-size tensor
        raise _error(L.Status.ERR_NEGATIVE_SIZE,
                     f"integer modulo by zero: Keras cannot reshape an input of shape {x.shape} "
                     f"(axis {zero[0]} has size 0) into groups")
    return g


def _run(x, groups, axis, epsilon, center, scale, gamma, beta, mask, one_based):
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    # Keras casts gamma/beta to the float32 compute dtype; f16/bf16 x is upcast to
    # float32 for the arithmetic (gnk computes in double and rounds once).
    gm = np.asarray(gamma, dtype=_F32) if (scale and gamma is not None) else None
    bt = np.asarray(beta, dtype=_F32) if (center and beta is not None) else None
    eps = float(np.float32(epsilon))  # added to a float32 variance
    if x.dtype.kind in "iub":  # Keras computes in result_type(x, float32)
        x = x.astype(_F32)
    return general_group_norm(x, groups, axis=axis, one_based=one_based, gamma=gm, beta=bt,
                              eps=eps, mask=mask, param_dtype=_F32)


def group_normalization(x, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                        gamma=None, beta=None, mask=None):
    """keras.layers.GroupNormalization(groups, axis, epsilon, center, scale)(x, mask=mask)
    with the layer's weights gamma/beta."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    g = _validate(x, groups, axis)
    return _run(x, g, axis, epsilon, center, scale, gamma, beta, mask, False)


def layer_group_normalization(x, groups=32, axis=-1, epsilon=0.001, center=True, scale=True,
                              gamma=None, beta=None, mask=None):
    """R keras3::layer_group_normalization(object, groups = 32L, axis = -1L,
    epsilon = 0.001, ...): a positive axis counts from 1 (R), negative ones from the
    end; axis = 0 is an error."""
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and axis == 0:
        raise _error(L.Status.ERR_BAD_AXIS, "`axis` argument is 1 based, received 0")
    py_axis = axis - 1 if isinstance(axis, (int, np.integer)) and axis > 0 else axis
    g = _validate(x, groups, py_axis)
    # The C side applies the 1-based convention itself (GNK_AXIS_ONE_BASED).
    return _run(x, g, axis, epsilon, center, scale, gamma, beta, mask, True)
