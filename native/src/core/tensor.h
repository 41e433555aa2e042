// Tensor views at the C boundary: validation with messages that name the argument, and
// conversion between the storage dtypes (f32, bf16, f16) and the f32 the CPU kernels compute in.
#pragma once

#include <chela/chela.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace chela {

// ---- bf16 / f16 <-> f32 (round to nearest even; NaN stays NaN; overflow becomes inf)
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

int64_t numel(const chela_tensor& t);
std::string shape_string(const chela_tensor& t);
const char* dtype_name(int32_t dtype);

// Bit masks of accepted dtypes.
enum DTypeMask : unsigned {
    kF32 = 1u << CHELA_DTYPE_F32,
    kBF16 = 1u << CHELA_DTYPE_BF16,
    kF16 = 1u << CHELA_DTYPE_F16,
    kI32 = 1u << CHELA_DTYPE_I32,
    kI64 = 1u << CHELA_DTYPE_I64,
    kFloats = kF32 | kBF16 | kF16,
};

// Use kAny in an expected shape to accept any extent in that dimension.
constexpr int64_t kAny = -1;

// Checks a tensor argument: not null, a known dtype in `allowed`, placed on `device`, reserved
// field 0, rank and extents as in `shape` (kAny = free), data non-null when it has elements.
// Throws chela::Error naming `name` otherwise. Returns the tensor for chaining.
// `device` is where the data must live (the context's device).
const chela_tensor& check_tensor(const chela_tensor* t, const char* name, unsigned allowed,
                                 std::initializer_list<int64_t> shape, int32_t device = CHELA_DEVICE_CPU);

// Same checks, rank only (extents checked by the caller).
const chela_tensor& check_tensor_rank(const chela_tensor* t, const char* name, unsigned allowed,
                                      int rank, int32_t device = CHELA_DEVICE_CPU);

// Throws CHELA_ERR_SHAPE: "<name>: dimension <dim> is <got>, expected <want> (<why>)".
void check_extent(const chela_tensor& t, const char* name, int dim, int64_t want, const char* why);

// Copies a float tensor (f32/bf16/f16) into f32.
void to_f32(const chela_tensor& t, float* dst);
// Writes f32 values into a float tensor (f32/bf16/f16).
void from_f32(const float* src, const chela_tensor& t);

// Read access as f32: points at the data when it already is f32, else at a converted copy.
class F32Input {
public:
    explicit F32Input(const chela_tensor& t);
    const float* data() const { return ptr_; }

private:
    std::vector<float> copy_;
    const float* ptr_;
};

// Write access as f32: writes straight into an f32 tensor, else into a buffer that commit()
// converts into the tensor's dtype.
class F32Output {
public:
    explicit F32Output(const chela_tensor& t);
    float* data() { return ptr_; }
    void commit();

private:
    const chela_tensor& t_;
    std::vector<float> copy_;
    float* ptr_;
};

// A host view of f32 memory the library owns (for model weights and internal calls).
chela_tensor make_view(const float* data, std::initializer_list<int64_t> shape);
chela_tensor make_view(const float* data, const std::vector<int64_t>& shape);

}  // namespace chela
