#include "core/tensor.h"

#include "core/error.h"

#include <cmath>
#include <sstream>

namespace chela {

float bf16_to_f32(uint16_t h) {
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t f32_to_bf16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);  // quiet NaN
    bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
    return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: value = man * 2^-24
            float v = std::ldexp(static_cast<float>(man), -24);
            std::memcpy(&bits, &v, sizeof bits);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0u);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
    const uint32_t abs = bits & 0x7fffffffu;
    if (abs > 0x7f800000u) return sign | 0x7e00u;          // NaN
    if (abs >= 0x477ff000u) return sign | 0x7c00u;         // rounds to >= 65520: inf
    if (abs < 0x38800000u) {                               // below f16's smallest normal
        // value / 2^-24, rounded to nearest even by the FPU
        float a;
        std::memcpy(&a, &abs, sizeof a);
        float scaled = a * 16777216.0f;  // exact: power of two
        long r = std::lrintf(scaled);
        return static_cast<uint16_t>(sign | static_cast<uint16_t>(r));
    }
    uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
    return static_cast<uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

int64_t numel(const chela_tensor& t) {
    int64_t n = 1;
    for (int i = 0; i < t.rank; ++i) n *= t.shape[i];
    return n;
}

std::string shape_string(const chela_tensor& t) {
    std::ostringstream os;
    os << '[';
    for (int i = 0; i < t.rank; ++i) os << (i ? ", " : "") << t.shape[i];
    os << ']';
    return os.str();
}

const char* dtype_name(int32_t dtype) {
    switch (dtype) {
        case CHELA_DTYPE_F32: return "f32";
        case CHELA_DTYPE_BF16: return "bf16";
        case CHELA_DTYPE_F16: return "f16";
        case CHELA_DTYPE_I32: return "i32";
        case CHELA_DTYPE_I64: return "i64";
        default: return "unknown";
    }
}

static std::string allowed_names(unsigned allowed) {
    std::string s;
    for (int d = CHELA_DTYPE_F32; d <= CHELA_DTYPE_I64; ++d)
        if (allowed & (1u << d)) s += (s.empty() ? "" : "/") + std::string(dtype_name(d));
    return s;
}

const chela_tensor& check_tensor_rank(const chela_tensor* t, const char* name, unsigned allowed,
                                      int rank, int32_t device) {
    if (t == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, name, ": tensor is null");
    if (t->dtype < CHELA_DTYPE_F32 || t->dtype > CHELA_DTYPE_I64 || !(allowed & (1u << t->dtype)))
        fail(CHELA_ERR_DTYPE, name, ": dtype ", dtype_name(t->dtype), " (", t->dtype,
             ") not accepted, expected ", allowed_names(allowed));
    if (t->device != device)
        fail(CHELA_ERR_INVALID_ARGUMENT, name, ": tensor is in ",
             t->device == CHELA_DEVICE_CPU ? "host" : t->device == CHELA_DEVICE_CUDA ? "CUDA device" : "unknown",
             " memory (device ", t->device, ") but the ", device == CHELA_DEVICE_CPU ? "CPU" : "CUDA",
             " backend was asked");
    if (t->reserved != 0) fail(CHELA_ERR_INVALID_ARGUMENT, name, ": reserved field must be 0");
    if (t->rank != rank)
        fail(CHELA_ERR_SHAPE, name, ": expected rank ", rank, ", got rank ", t->rank);
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) {
        if (t->shape[i] < 0) fail(CHELA_ERR_SHAPE, name, ": negative extent in dimension ", i);
        if (t->shape[i] > 0 && n > (int64_t{1} << 48) / t->shape[i])
            fail(CHELA_ERR_SHAPE, name, ": shape ", shape_string(*t), " is too large");
        n *= t->shape[i];
    }
    if (n > 0 && t->data == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, name, ": data pointer is null");
    return *t;
}

const chela_tensor& check_tensor(const chela_tensor* t, const char* name, unsigned allowed,
                                 std::initializer_list<int64_t> shape, int32_t device) {
    const chela_tensor& r = check_tensor_rank(t, name, allowed, static_cast<int>(shape.size()), device);
    int i = 0;
    for (int64_t want : shape) {
        if (want != kAny && r.shape[i] != want) {
            std::ostringstream exp;
            exp << '[';
            int j = 0;
            for (int64_t w : shape) {
                exp << (j++ ? ", " : "");
                if (w == kAny) exp << '*'; else exp << w;
            }
            exp << ']';
            fail(CHELA_ERR_SHAPE, name, ": shape ", shape_string(r), " does not match expected ",
                 exp.str());
        }
        ++i;
    }
    return r;
}

void check_extent(const chela_tensor& t, const char* name, int dim, int64_t want, const char* why) {
    if (t.shape[dim] != want)
        fail(CHELA_ERR_SHAPE, name, ": dimension ", dim, " is ", t.shape[dim], ", expected ", want,
             " (", why, ")");
}

void to_f32(const chela_tensor& t, float* dst) {
    const int64_t n = numel(t);
    switch (t.dtype) {
        case CHELA_DTYPE_F32: std::memcpy(dst, t.data, sizeof(float) * n); break;
        case CHELA_DTYPE_BF16: {
            const uint16_t* s = static_cast<const uint16_t*>(t.data);
            for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
            break;
        }
        case CHELA_DTYPE_F16: {
            const uint16_t* s = static_cast<const uint16_t*>(t.data);
            for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
            break;
        }
        default: fail(CHELA_ERR_DTYPE, "internal: to_f32 on ", dtype_name(t.dtype));
    }
}

void from_f32(const float* src, const chela_tensor& t) {
    const int64_t n = numel(t);
    switch (t.dtype) {
        case CHELA_DTYPE_F32: std::memcpy(t.data, src, sizeof(float) * n); break;
        case CHELA_DTYPE_BF16: {
            uint16_t* d = static_cast<uint16_t*>(t.data);
            for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
            break;
        }
        case CHELA_DTYPE_F16: {
            uint16_t* d = static_cast<uint16_t*>(t.data);
            for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
            break;
        }
        default: fail(CHELA_ERR_DTYPE, "internal: from_f32 on ", dtype_name(t.dtype));
    }
}

F32Input::F32Input(const chela_tensor& t) {
    if (t.dtype == CHELA_DTYPE_F32) {
        ptr_ = static_cast<const float*>(t.data);
    } else {
        copy_.resize(static_cast<size_t>(numel(t)));
        to_f32(t, copy_.data());
        ptr_ = copy_.data();
    }
}

F32Output::F32Output(const chela_tensor& t) : t_(t) {
    if (t.dtype == CHELA_DTYPE_F32) {
        ptr_ = static_cast<float*>(t.data);
    } else {
        copy_.resize(static_cast<size_t>(numel(t)));
        ptr_ = copy_.data();
    }
}

void F32Output::commit() {
    if (t_.dtype != CHELA_DTYPE_F32) from_f32(copy_.data(), t_);
}

chela_tensor make_view(const float* data, const std::vector<int64_t>& shape) {
    chela_tensor t{};
    t.data = const_cast<float*>(data);
    t.dtype = CHELA_DTYPE_F32;
    t.device = CHELA_DEVICE_CPU;
    t.rank = static_cast<int32_t>(shape.size());
    for (size_t i = 0; i < shape.size() && i < CHELA_MAX_RANK; ++i) t.shape[i] = shape[i];
    return t;
}

chela_tensor make_view(const float* data, std::initializer_list<int64_t> shape) {
    return make_view(data, std::vector<int64_t>(shape));
}

}  // namespace chela

extern "C" size_t chela_dtype_size(int32_t dtype) {
    switch (dtype) {
        case CHELA_DTYPE_F32: case CHELA_DTYPE_I32: return 4;
        case CHELA_DTYPE_BF16: case CHELA_DTYPE_F16: return 2;
        case CHELA_DTYPE_I64: return 8;
        default: return 0;
    }
}
