"""numpy port of tf.contrib.layers.group_norm (TensorFlow 1.x), line by line.

TF 1.x (and with it tf.contrib) cannot be installed on Python 3.11, so gnk.contrib is
tested against this port. Source: tensorflow/contrib/layers/python/layers/normalization.py
(r1.15, function `group_norm`; see shared/docs/semantics.md), and the helpers it calls in
tensorflow/python/ops/nn_impl.py (`moments`, `sufficient_statistics`, `normalize_moments`)
and nn_ops / math_ops. Each step quotes the TF statement it ports (`TF:` comments).
The variable handling (variable_scope, model_variable, collections) is replaced by the
gamma/beta arguments, which play the role of the created variables' values.

`tf_group_norm` (end of file) is the same transcription written with TensorFlow 2 ops
(tf.nn.moments, tf.nn.sufficient_statistics, tf.nn.normalize_moments, ...): the tests run
it when tensorflow imports, to check this numpy port against TF's own kernels.
"""
import math

import numpy as np


class ContribError(ValueError):
    """The ValueErrors group_norm raises (same messages)."""


# ---- tensorflow/python/ops/nn_impl.py ----------------------------------------------------
def _acc(x):
    # 16-bit reductions are modelled with float32 accumulation, the result rounded to
    # x's dtype (numpy would otherwise accumulate in half precision, which TF's CPU
    # reduction kernels do not do).
    return x.astype(np.float32) if x.dtype != np.float32 else x


def _reduce_mean(x, axes):
    # TF: math_ops.reduce_mean(y, axes, keepdims=True)  (sum, then divide; y's dtype)
    return np.mean(_acc(x), axis=tuple(axes), keepdims=True).astype(x.dtype)


def moments(x, axes):
    """tf.nn.moments(x, axes, keep_dims=True)."""
    # TF: y = math_ops.cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
    y = x.astype(np.float32) if x.dtype == np.float16 else x
    # TF: mean = math_ops.reduce_mean(y, axes, keepdims=True, name="mean")
    mean = _reduce_mean(y, axes)
    # TF: variance = math_ops.reduce_mean(
    # TF:     math_ops.squared_difference(y, array_ops.stop_gradient(mean)), axes, keepdims=True)
    d = (y - mean).astype(y.dtype)
    variance = _reduce_mean((d * d).astype(y.dtype), axes)
    # TF: if x.dtype == dtypes.float16:
    # TF:   return (math_ops.cast(mean, dtypes.float16), math_ops.cast(variance, dtypes.float16))
    if x.dtype == np.float16:
        return mean.astype(np.float16), variance.astype(np.float16)
    return mean, variance


def sufficient_statistics(x, axes):
    """tf.nn.sufficient_statistics(x, axes, shift=None, keep_dims=True)."""
    # TF: counts = 1; for d in axes: counts *= x_shape[d].value
    # TF: counts = constant_op.constant(counts, dtype=x.dtype)
    counts = x.dtype.type(math.prod(x.shape[a] for a in axes))
    # TF: m_ss = math_ops.reduce_sum(x, axes, keepdims=keep_dims, name="mean_ss")
    m_ss = np.sum(_acc(x), axis=tuple(axes), keepdims=True).astype(x.dtype)
    # TF: v_ss = math_ops.reduce_sum(math_ops.square(x), axes, keepdims=keep_dims, name="var_ss")
    v_ss = np.sum(_acc((x * x).astype(x.dtype)), axis=tuple(axes), keepdims=True).astype(x.dtype)
    # TF: return counts, m_ss, v_ss, shift
    return counts, m_ss, v_ss, None


def normalize_moments(counts, mean_ss, variance_ss, shift=None):
    """tf.nn.normalize_moments(counts, mean_ss, variance_ss, shift=None)."""
    dt = mean_ss.dtype
    # TF: divisor = math_ops.reciprocal(counts, name="divisor")
    divisor = (dt.type(1) / counts).astype(dt)
    # TF: shifted_mean = math_ops.multiply(mean_ss, divisor, name="mean"); mean = shifted_mean
    shifted_mean = (mean_ss * divisor).astype(dt)
    mean = shifted_mean
    # TF: variance = math_ops.subtract(math_ops.multiply(variance_ss, divisor),
    # TF:                              math_ops.square(shifted_mean), name="variance")
    variance = ((variance_ss * divisor).astype(dt) - (shifted_mean * shifted_mean).astype(dt)).astype(dt)
    return mean, variance


def _rsqrt(v):
    # TF: math_ops.rsqrt (in v's dtype)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (v.dtype.type(1) / np.sqrt(v)).astype(v.dtype)


# Activations as TF defines them (tf.nn.relu, tf.nn.silu / swish, tf.nn.gelu).
def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, x.dtype.type(0)),
    "silu": lambda x: (x.astype(np.float64) * _sigmoid(x.astype(np.float64))).astype(x.dtype),
    "swish": lambda x: (x.astype(np.float64) * _sigmoid(x.astype(np.float64))).astype(x.dtype),
    # tf.nn.gelu(approximate=False): 0.5 x (1 + erf(x / sqrt 2))
    "gelu": lambda x: (0.5 * x.astype(np.float64) *
                       (1.0 + _erf(x.astype(np.float64) / math.sqrt(2.0)))).astype(x.dtype),
    # tf.nn.gelu(approximate=True): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    "gelu_tanh": lambda x: (0.5 * x.astype(np.float64) * (1.0 + np.tanh(
        math.sqrt(2.0 / math.pi) * (x.astype(np.float64) +
                                    0.044715 * x.astype(np.float64) ** 3)))).astype(x.dtype),
}


# ---- tensorflow/contrib/layers/python/layers/normalization.py: group_norm ----------------
def group_norm(inputs, groups=32, channels_axis=-1, reduction_axes=(-3, -2), center=True,
               scale=True, epsilon=1e-6, activation_fn=None, mean_close_to_zero=False,
               gamma=None, beta=None, trace=None):
    """tf.contrib.layers.group_norm; gamma/beta: the values of the created variables
    (default: their initializers, ones / zeros, in the input's dtype). trace: a dict that
    receives "mag" = |inputs * gain| + |mean * gain| (x's shape, float64), the size of the
    terms whose rounding dominates the folded `inputs * gain + offset`."""
    # TF: inputs = ops.convert_to_tensor(inputs)
    inputs = np.asarray(inputs)
    # TF: original_shape = array_ops.shape(inputs)
    original_shape = inputs.shape
    ndims = inputs.ndim

    # TF: if inputs.shape.ndims is None: raise ValueError('Inputs %s has undefined rank.' % ...)
    # (numpy arrays always have a rank)
    # TF: if channels_axis > (inputs.shape.ndims - 1):
    # TF:   raise ValueError('Axis is out of bounds.')
    if channels_axis > (ndims - 1):
        raise ContribError("Axis is out of bounds.")

    # TF: # Standardize the channels_axis to be positive and identify # of channels.
    # TF: if channels_axis < 0:
    # TF:   channels_axis = inputs.shape.ndims + channels_axis
    if channels_axis < 0:
        channels_axis = ndims + channels_axis
    # TF: channels = inputs.shape[channels_axis].value
    channels = inputs.shape[channels_axis]
    # TF: if channels is None: raise ValueError('Inputs %s has undefined channel dimension: %d.')
    # (static shapes here)

    # TF: # Standardize the reduction_axes to be positive.
    # TF: reduction_axes = list(reduction_axes)
    # TF: for i in range(len(reduction_axes)):
    # TF:   if reduction_axes[i] < 0:
    # TF:     reduction_axes[i] += inputs.shape.ndims
    reduction_axes = list(reduction_axes)
    for i in range(len(reduction_axes)):
        if reduction_axes[i] < 0:
            reduction_axes[i] += ndims

    # TF: for a in reduction_axes:
    # TF:   if a > inputs.shape.ndims:
    # TF:     raise ValueError('Axis is out of bounds.')
    # TF:   if inputs.shape[a].value is None:
    # TF:     raise ValueError('Inputs %s has undefined dimensions %d.' % (inputs.name, a))
    # TF:   if channels_axis == a:
    # TF:     raise ValueError('reduction_axis must be mutually exclusive with channels_axis')
    for a in reduction_axes:
        if a > ndims:
            raise ContribError("Axis is out of bounds.")
        if a == ndims or a < 0:  # TF: inputs.shape[a] raises (index out of range)
            raise ContribError("Axis is out of bounds.")
        if channels_axis == a:
            raise ContribError("reduction_axis must be mutually exclusive with channels_axis")
    # TF: if groups > channels:
    # TF:   raise ValueError('Invalid groups %d for %d channels.' % (groups, channels))
    if groups > channels:
        raise ContribError("Invalid groups %d for %d channels." % (groups, channels))
    # TF: if channels % groups != 0:
    # TF:   raise ValueError('%d channels is not commensurate with %d groups.' % (channels, groups))
    if channels % groups != 0:
        raise ContribError("%d channels is not commensurate with %d groups." % (channels, groups))

    # TF: axes_before_channels = [array_ops.shape(inputs)[i] for i in range(0, channels_axis)]
    axes_before_channels = [inputs.shape[i] for i in range(0, channels_axis)]
    # TF: axes_after_channels = [array_ops.shape(inputs)[i]
    # TF:                        for i in range(channels_axis+1, len(inputs.shape))]
    axes_after_channels = [inputs.shape[i] for i in range(channels_axis + 1, ndims)]

    # TF: # Manually broadcast the parameters to conform to the number of groups.
    # TF: params_shape_broadcast = ([1] * len(axes_before_channels) +
    # TF:                           [groups, channels // groups] +
    # TF:                           [1] * len(axes_after_channels))
    params_shape_broadcast = ([1] * len(axes_before_channels) + [groups, channels // groups] +
                              [1] * len(axes_after_channels))

    # TF: # Reshape the input by the group within the channel dimension.
    # TF: inputs_shape = (axes_before_channels + [groups, channels // groups] +
    # TF:                 axes_after_channels)
    # TF: inputs = array_ops.reshape(inputs, inputs_shape)
    inputs_shape = axes_before_channels + [groups, channels // groups] + axes_after_channels
    inputs = inputs.reshape(inputs_shape)

    # TF: # Determine the dimensions across which moments are calculated.
    # TF: moments_axes = [channels_axis + 1]
    # TF: for a in reduction_axes:
    # TF:   if a > channels_axis:
    # TF:     moments_axes.append(a + 1)
    # TF:   else:
    # TF:     moments_axes.append(a)
    moments_axes = [channels_axis + 1]
    for a in reduction_axes:
        if a > channels_axis:
            moments_axes.append(a + 1)
        else:
            moments_axes.append(a)

    # TF: params_shape = [channels]
    # TF: dtype = inputs.dtype.base_dtype
    dtype = inputs.dtype
    # TF: if center: beta = variables.model_variable('beta', shape=params_shape, dtype=dtype,
    # TF:                initializer=init_ops.zeros_initializer(), ...)
    # TF:   beta = array_ops.reshape(beta, params_shape_broadcast)
    beta_v = None
    if center:
        beta_v = (np.zeros(channels, dtype) if beta is None else np.asarray(beta).astype(dtype))
        beta_v = beta_v.reshape(params_shape_broadcast)
    # TF: if scale: gamma = variables.model_variable('gamma', ..., initializer=ones_initializer())
    # TF:   gamma = array_ops.reshape(gamma, params_shape_broadcast)
    gamma_v = None
    if scale:
        gamma_v = (np.ones(channels, dtype) if gamma is None else np.asarray(gamma).astype(dtype))
        gamma_v = gamma_v.reshape(params_shape_broadcast)

    # TF: # Calculate the moments.
    # TF: if mean_close_to_zero:
    # TF:   # One pass algorithm returns better result when mean is close to zero.
    # TF:   counts, means_ss, variance_ss, _ = nn.sufficient_statistics(
    # TF:       inputs, moments_axes, keep_dims=True)
    # TF:   mean, variance = nn.normalize_moments(
    # TF:       counts, means_ss, variance_ss, shift=None)
    # TF: else:
    # TF:   mean, variance = nn.moments(inputs, moments_axes, keep_dims=True)
    if mean_close_to_zero:
        counts, means_ss, variance_ss, _ = sufficient_statistics(inputs, moments_axes)
        mean, variance = normalize_moments(counts, means_ss, variance_ss, shift=None)
    else:
        mean, variance = moments(inputs, moments_axes)

    # TF: # Compute normalization.
    # TF: gain = math_ops.rsqrt(variance + epsilon)
    eps = np.asarray(epsilon).astype(dtype)  # a Python float added to a `dtype` tensor
    gain = _rsqrt((variance + eps).astype(dtype))
    # TF: offset = -mean * gain
    offset = (-mean * gain).astype(dtype)
    # TF: if gamma is not None:
    # TF:   gain *= gamma
    # TF:   offset *= gamma
    if gamma_v is not None:
        gain = (gain * gamma_v).astype(dtype)
        offset = (offset * gamma_v).astype(dtype)
    # TF: if beta is not None:
    # TF:   offset += beta
    if beta_v is not None:
        offset = (offset + beta_v).astype(dtype)
    # TF: outputs = inputs * gain + offset
    outputs = ((inputs * gain).astype(dtype) + offset).astype(dtype)
    if trace is not None:
        g64 = gain.astype(np.float64)
        trace["mag"] = (np.abs(inputs.astype(np.float64) * g64) +
                        np.abs(mean.astype(np.float64) * g64)).reshape(original_shape)

    # TF: # Collapse the groups into the channel dimension.
    # TF: outputs = array_ops.reshape(outputs, original_shape)
    outputs = outputs.reshape(original_shape)

    # TF: if activation_fn is not None:
    # TF:   outputs = activation_fn(outputs)
    if activation_fn is not None:
        fn = ACTIVATIONS[activation_fn] if isinstance(activation_fn, str) else activation_fn
        outputs = fn(outputs)
    return outputs


# ---- the same transcription with TensorFlow 2 ops (checks the numpy port) ----------------
def tf_group_norm(tf, inputs, groups=32, channels_axis=-1, reduction_axes=(-3, -2),
                  center=True, scale=True, epsilon=1e-6, activation_fn=None,
                  mean_close_to_zero=False, gamma=None, beta=None):
    """tf.contrib.layers.group_norm's body on TF 2 ops (`tf` is the imported module);
    validation omitted (the numpy port has it)."""
    inputs = tf.convert_to_tensor(inputs)
    original_shape = tf.shape(inputs)
    ndims = inputs.shape.ndims
    if channels_axis < 0:
        channels_axis = ndims + channels_axis
    channels = inputs.shape[channels_axis]
    reduction_axes = [a + ndims if a < 0 else a for a in reduction_axes]
    before = [tf.shape(inputs)[i] for i in range(0, channels_axis)]
    after = [tf.shape(inputs)[i] for i in range(channels_axis + 1, ndims)]
    params_shape_broadcast = [1] * len(before) + [groups, channels // groups] + [1] * len(after)
    inputs = tf.reshape(inputs, before + [groups, channels // groups] + after)
    moments_axes = [channels_axis + 1] + [a + 1 if a > channels_axis else a
                                          for a in reduction_axes]
    dtype = inputs.dtype
    beta_t = gamma_t = None
    if center:
        beta_t = tf.reshape(tf.zeros([channels], dtype) if beta is None
                            else tf.cast(beta, dtype), params_shape_broadcast)
    if scale:
        gamma_t = tf.reshape(tf.ones([channels], dtype) if gamma is None
                             else tf.cast(gamma, dtype), params_shape_broadcast)
    if mean_close_to_zero:
        counts, means_ss, variance_ss, _ = tf.nn.sufficient_statistics(inputs, moments_axes,
                                                                       keepdims=True)
        mean, variance = tf.nn.normalize_moments(counts, means_ss, variance_ss, shift=None)
    else:
        mean, variance = tf.nn.moments(inputs, moments_axes, keepdims=True)
    gain = tf.math.rsqrt(variance + epsilon)
    offset = -mean * gain
    if gamma_t is not None:
        gain *= gamma_t
        offset *= gamma_t
    if beta_t is not None:
        offset += beta_t
    outputs = tf.reshape(inputs * gain + offset, original_shape)
    if activation_fn is not None:
        fns = {"relu": tf.nn.relu, "silu": tf.nn.silu, "swish": tf.nn.silu,
               "gelu": lambda t: tf.nn.gelu(t, approximate=False),
               "gelu_tanh": lambda t: tf.nn.gelu(t, approximate=True)}
        outputs = fns[activation_fn](outputs)
    return outputs.numpy()
