"""ctypes view of libchela's public C ABI (native/include/chela/chela.h) for the device scripts.

Wraps torch tensors (CPU or CUDA, contiguous) as chela_tensor views without copying, so a device
benchmark measures exactly what Java and C callers get. Library path: $CHELA_LIB, else
.device/bin/libchela.so (its OpenBLAS/KissFFT dependencies in .device/lib, preloaded here).
"""
import ctypes
import glob
import os

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
for dep in sorted(glob.glob(os.path.join(ROOT, ".device", "lib", "*.so*"))):
    if "quadmath" in dep or "gfortran" in dep:
        ctypes.CDLL(dep, mode=ctypes.RTLD_GLOBAL)  # openblas needs these first
for dep in sorted(glob.glob(os.path.join(ROOT, ".device", "lib", "*.so*"))):
    ctypes.CDLL(dep, mode=ctypes.RTLD_GLOBAL)
lib = ctypes.CDLL(os.environ.get("CHELA_LIB", os.path.join(ROOT, ".device", "bin", "libchela.so")))

F32, BF16, F16, I32, I64 = 0, 1, 2, 3, 4
CPU, CUDA = 0, 1
ATTN_RMSNORM, ATTN_NONE, ATTN_DENOMINATOR = 0, 1, 2
_DTYPES = {torch.float32: F32, torch.bfloat16: BF16, torch.float16: F16, torch.int32: I32, torch.int64: I64}


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int32), ("device", ctypes.c_int32),
                ("rank", ctypes.c_int32), ("reserved", ctypes.c_int32), ("shape", ctypes.c_int64 * 8)]


class LinearAttentionOptions(ctypes.Structure):
    _fields_ = [("n_heads", ctypes.c_int32), ("causal", ctypes.c_int32), ("feature_map", ctypes.c_int32),
                ("attn_norm", ctypes.c_int32), ("scale", ctypes.c_float), ("eps", ctypes.c_float),
                ("chunk_size", ctypes.c_int32), ("reserved", ctypes.c_int32)]


lib.chela_last_error.restype = ctypes.c_char_p


def check(status, what):
    if status != 0:
        raise RuntimeError(f"{what}: status {status}: {lib.chela_last_error().decode()}")


def view(t, shape=None):
    """A chela_tensor over torch tensor t (no copy); `shape` reinterprets it (same element count)."""
    if t is None:
        return None
    assert t.is_contiguous()
    shape = list(t.shape if shape is None else shape)
    v = Tensor(t.data_ptr(), _DTYPES[t.dtype], CUDA if t.is_cuda else CPU, len(shape), 0)
    for i, n in enumerate(shape):
        v.shape[i] = n
    return ctypes.pointer(v)


class CudaContext:
    """A chela CUDA context queued on torch's current stream, so events time our kernels in order."""

    def __init__(self, device=0):
        stream = torch.cuda.current_stream().cuda_stream
        # A null handle would hand the context back its own stream, which torch's events do not time.
        assert stream != 0, "create the context inside torch.cuda.stream(torch.cuda.Stream())"
        self.ptr = ctypes.c_void_p()
        check(lib.chela_context_create_cuda(device, ctypes.byref(self.ptr)), "chela_context_create_cuda")
        check(lib.chela_context_set_cuda_stream(self.ptr, ctypes.c_void_p(stream)),
              "chela_context_set_cuda_stream")

    def close(self):
        if self.ptr:
            lib.chela_context_destroy(self.ptr)
            self.ptr = ctypes.c_void_p()


def la_options(e, heads, attn_norm=ATTN_NONE, causal=True, scale=None):
    o = LinearAttentionOptions()
    check(lib.chela_linear_attention_options_init(ctypes.byref(o), ctypes.c_int64(e), heads), "options_init")
    o.attn_norm, o.causal = attn_norm, int(causal)
    if scale is not None:
        o.scale = scale
    return o


def linear_attention(ctx, q, k, v, out, opts, decay=None, norm_weight=None, state_in=None, state_out=None):
    """q, k: [B, L, H, dk]; v, out: [B, L, H, dv] torch tensors, viewed as the ABI's [B, L, e] / [B, L, f]."""
    B, L = q.shape[0], q.shape[1]
    flat = lambda t: view(t, [B, L, t[0, 0].numel()])  # noqa: E731
    check(lib.chela_linear_attention(ctx.ptr, flat(q), flat(k), flat(v), view(decay), view(norm_weight),
                                     view(state_in), None, flat(out), view(state_out), None, ctypes.byref(opts)),
          "chela_linear_attention")
    return out


def short_long_conv(ctx, x, short_w, short_b, long_w, long_w_rev, omega, out, causal, channels_major=False):
    """x, out: [B, L, C] ([B, C, L] with channels_major: CHELA_CONV_LAYOUT_BDL); weights as
    chela_short_long_conv takes them (long_w_rev None when causal)."""
    check(lib.chela_short_long_conv_in_layout(ctx.ptr, view(x), view(short_w), view(short_b), view(long_w),
                                              view(long_w_rev), view(omega), view(out),
                                              ctypes.c_int32(1 if causal else 0),
                                              ctypes.c_int32(1 if channels_major else 0)),
          "chela_short_long_conv_in_layout")
    return out


class Model:
    """A checkpoint folder loaded into a chela context (on a CUDA context: weights on the device)."""

    def __init__(self, ctx, directory):
        self.ptr = ctypes.c_void_p()
        check(lib.chela_model_load(ctx.ptr, str(directory).encode(), ctypes.byref(self.ptr)), "chela_model_load")

    def forward(self, inputs, out, lengths=None):
        check(lib.chela_model_forward(self.ptr, view(inputs), view(lengths), view(out)), "chela_model_forward")
        return out

    def layer_forward(self, layer, x, y):
        check(lib.chela_model_layer_forward(self.ptr, ctypes.c_int32(layer), view(x), view(y)),
              "chela_model_layer_forward")
        return y

    def close(self):
        if self.ptr:
            lib.chela_model_destroy(self.ptr)
            self.ptr = ctypes.c_void_p()
