"""numpy <-> TensorProto without TensorFlow, for the dtypes FakeWeb sends and reads.

``to_tensor_proto`` writes the ``tensor_content`` form (raw little-endian bytes), as
``tf.make_tensor_proto`` does for numeric arrays. ``to_ndarray`` reads what ``tf.make_ndarray``
reads for these dtypes: ``tensor_content`` if set, else the repeated ``*_val`` field, padded with
its last value up to the shape (one value stands for a whole tensor), all zeros if empty.
"""

from __future__ import annotations

import numpy as np

from tfserving_protos.tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

# tensorflow.DataType -> (little-endian numpy dtype, the repeated field tf.make_tensor_proto would fill)
DTYPES: dict[int, tuple[np.dtype, str]] = {
    types_pb2.DT_FLOAT: (np.dtype("<f4"), "float_val"),
    types_pb2.DT_UINT8: (np.dtype("u1"), "int_val"),
    types_pb2.DT_DOUBLE: (np.dtype("<f8"), "double_val"),
    types_pb2.DT_INT32: (np.dtype("<i4"), "int_val"),
    types_pb2.DT_INT64: (np.dtype("<i8"), "int64_val"),
}


def _dtype(dtype_enum: int) -> tuple[np.dtype, str]:
    try:
        return DTYPES[dtype_enum]
    except KeyError:
        name = types_pb2.DataType.Name(dtype_enum) if dtype_enum in types_pb2.DataType.values() else dtype_enum
        supported = sorted(map(types_pb2.DataType.Name, DTYPES))
        raise TypeError(f"unsupported tensor dtype {name}; supported: {supported}") from None


def to_tensor_proto(array: np.ndarray, dtype_enum: int) -> tensor_pb2.TensorProto:
    """A TensorProto of ``array`` cast to ``dtype_enum`` (a ``types_pb2.DT_*``), in tensor_content form."""
    dtype, _ = _dtype(dtype_enum)
    contiguous = np.ascontiguousarray(array, dtype=dtype)
    shape = tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in array.shape])
    return tensor_pb2.TensorProto(dtype=dtype_enum, tensor_shape=shape, tensor_content=contiguous.tobytes())


def to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """The array a TensorProto holds (a new, writable array in native byte order).

    Raises TypeError for a dtype outside ``DTYPES`` and ValueError if the values do not fit the shape.
    """
    dtype, field = _dtype(proto.dtype)
    shape = [d.size for d in proto.tensor_shape.dim]
    if any(size < 0 for size in shape):
        raise ValueError(f"tensor shape {shape} is not fully defined")
    count = int(np.prod(shape, dtype=np.int64))
    native = dtype.newbyteorder("=")
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype).astype(native).reshape(shape)
    values = np.fromiter(getattr(proto, field), dtype=native)
    if values.size == 0:
        return np.zeros(shape, native)
    if values.size > count:
        raise ValueError(f"{values.size} values do not fit the shape {shape}")
    if values.size < count:
        values = np.pad(values, (0, count - values.size), "edge")
    return values.reshape(shape)
