"""numpy <-> TensorProto without TensorFlow, checked against tf.make_tensor_proto / tf.make_ndarray."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfserving_protos.tensorflow.core.framework import tensor_pb2, types_pb2
from tfserving_protos.tensors import to_ndarray, to_tensor_proto

RNG = np.random.default_rng(13)
ARRAYS = {
    "uint8": (RNG.integers(0, 256, (2, 4, 5, 3), dtype=np.uint8), types_pb2.DT_UINT8),
    "float32": (RNG.standard_normal((3, 1)).astype(np.float32), types_pb2.DT_FLOAT),
}


def _proto(dtype_enum: int, shape: tuple[int, ...], **fields) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype_enum, **fields)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


@pytest.mark.parametrize("kind", ARRAYS)
def test_tensor_content_round_trips_and_matches_tensorflow(kind):
    array, dtype_enum = ARRAYS[kind]
    proto = to_tensor_proto(array, dtype_enum)
    assert proto.SerializeToString() == tf.make_tensor_proto(array).SerializeToString()
    back = to_ndarray(proto)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    np.testing.assert_array_equal(back, tf.make_ndarray(proto))
    back[...] = 0  # a writable copy, not a view of the message's bytes
    np.testing.assert_array_equal(to_ndarray(proto), array)


def test_to_tensor_proto_casts_to_the_requested_dtype():
    proto = to_tensor_proto(np.array([[0.0, 255.0]], np.float64), types_pb2.DT_UINT8)
    assert proto.dtype == types_pb2.DT_UINT8 and len(proto.tensor_content) == 2
    np.testing.assert_array_equal(to_ndarray(proto), np.array([[0, 255]], np.uint8))


VALUE_FORMS = {
    "float_val full": _proto(types_pb2.DT_FLOAT, (2, 2), float_val=[0.5, -1.25, 3.0, 0.0]),
    "float_val one value for all": _proto(types_pb2.DT_FLOAT, (2, 3), float_val=[0.75]),
    "float_val padded with the last": _proto(types_pb2.DT_FLOAT, (4,), float_val=[1.0, 2.0]),
    "float_val empty means zeros": _proto(types_pb2.DT_FLOAT, (2, 1)),
    "float_val scalar": _proto(types_pb2.DT_FLOAT, (), float_val=[0.125]),
    "int_val uint8 full": _proto(types_pb2.DT_UINT8, (1, 3), int_val=[0, 128, 255]),
    "int_val uint8 one value": _proto(types_pb2.DT_UINT8, (2, 2, 3), int_val=[7]),
    "int_val uint8 empty": _proto(types_pb2.DT_UINT8, (3,)),
    "double_val": _proto(types_pb2.DT_DOUBLE, (2,), double_val=[0.1, 0.2]),
    "int64_val": _proto(types_pb2.DT_INT64, (2,), int64_val=[1 << 40, -3]),
}


@pytest.mark.parametrize("form", VALUE_FORMS)
def test_repeated_value_forms_read_as_tensorflow_reads_them(form):
    proto = VALUE_FORMS[form]
    expected = tf.make_ndarray(proto)
    got = to_ndarray(proto)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", ARRAYS)
def test_value_form_round_trips_through_tensor_content(kind):
    array, dtype_enum = ARRAYS[kind]
    field = "float_val" if dtype_enum == types_pb2.DT_FLOAT else "int_val"
    proto = _proto(dtype_enum, array.shape, **{field: array.ravel().tolist()})
    np.testing.assert_array_equal(to_ndarray(to_tensor_proto(to_ndarray(proto), dtype_enum)), array)


def test_unsupported_dtypes_and_misfits_are_refused():
    with pytest.raises(TypeError, match="DT_STRING"):
        to_ndarray(_proto(types_pb2.DT_STRING, (1,), string_val=[b"x"]))
    with pytest.raises(TypeError):
        to_tensor_proto(np.zeros(2), types_pb2.DT_HALF)
    with pytest.raises(ValueError):
        to_ndarray(_proto(types_pb2.DT_FLOAT, (2,), float_val=[1.0, 2.0, 3.0]))
    with pytest.raises(ValueError):
        to_ndarray(_proto(types_pb2.DT_FLOAT, (2,), tensor_content=b"\0" * 12))
    with pytest.raises(ValueError):
        to_ndarray(_proto(types_pb2.DT_FLOAT, (-1, 2)))
