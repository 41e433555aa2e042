"""A small safetensors reader/writer on numpy, independent of the `safetensors` package.

Why: the reference must write checkpoints exactly in our format (docs/spec/chela.md, "Checkpoint
format") even where the package is missing, and tests read io files (I32 inputs) that the model
loader does not accept. Format: 8-byte little-endian header length N, N bytes of JSON
{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, padded with
spaces to a multiple of 8, then the raw little-endian tensor bytes.
"""
import json
import struct

import numpy as np

# safetensors dtype name <-> numpy dtype. BF16 has no numpy dtype: it travels as uint16 bit patterns.
_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
       "I8": "i1", "U8": "u1", "BOOL": "?"}


def _dtype_name(a):
    for name, np_dtype in _NP.items():
        if a.dtype == np.dtype(np_dtype):
            return name
    raise ValueError(f"safetensors_io: unsupported numpy dtype {a.dtype}")


def f32_to_bf16_bits(a):
    """float32 array -> uint16 bfloat16 bit patterns, round to nearest even (as the C++ side)."""
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def bf16_bits_to_f32(bits):
    return (np.asarray(bits, dtype="<u2").astype("<u4") << 16).view("<f4")


def save(tensors, path, metadata=None, bf16=()):
    """Writes {name: numpy array} to `path`. Names listed in `bf16` are stored as BF16 (their
    arrays are float32 and are rounded here)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if name in bf16:
            raw, dtype = f32_to_bf16_bits(a).tobytes(), "BF16"
        else:
            dtype = _dtype_name(a)
            raw = np.ascontiguousarray(a, dtype=_NP[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": [int(s) for s in a.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data section starts 8-byte aligned
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for raw in blobs:
            fh.write(raw)


def load(path):
    """Reads a safetensors file into {name: numpy array}; BF16 tensors come back as float32."""
    with open(path, "rb") as fh:
        data = fh.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            a = bf16_bits_to_f32(np.frombuffer(body[begin:end], dtype="<u2"))
        else:
            a = np.frombuffer(body[begin:end], dtype=_NP[info["dtype"]]).copy()
        out[name] = a.reshape(shape)
    return out


def metadata(path):
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        return json.loads(fh.read(n).decode("utf-8")).get("__metadata__", {})
