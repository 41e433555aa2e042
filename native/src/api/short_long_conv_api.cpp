// C entry points for the short-long convolution and the short-kernel reparameterisation merge.
#include "core/context.h"
#include "core/error.h"
#include "core/tensor.h"
#include "cpu/short_long_conv.h"

#ifdef CHELA_WITH_CUDA
#include "cuda/short_long_conv.h"
#endif

#include <algorithm>
#include <string>
#include <vector>

using namespace chela;

namespace {
constexpr int64_t kMaxShortKernel = 15;
constexpr int32_t kMaxBranches = 16;

// [B, R, C] -> [B, C, R] (f32 host memory), in 32 x 32 blocks so both sides stream whole cache lines.
void transpose_rows(const float* in, float* out, int64_t B, int64_t R, int64_t C) {
    constexpr int64_t kBlock = 32;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t r0 = 0; r0 < R; r0 += kBlock)
            for (int64_t c0 = 0; c0 < C; c0 += kBlock)
                for (int64_t r = r0; r < std::min(R, r0 + kBlock); ++r)
                    for (int64_t c = c0; c < std::min(C, c0 + kBlock); ++c)
                        out[(b * C + c) * R + r] = in[(b * R + r) * C + c];
}

}  // namespace

extern "C" chela_status chela_short_long_conv(chela_context* ctx, const chela_tensor* x,
                                              const chela_tensor* short_weight,
                                              const chela_tensor* short_bias,
                                              const chela_tensor* long_weight,
                                              const chela_tensor* long_weight_rev,
                                              const chela_tensor* omega, chela_tensor* out,
                                              int32_t causal) {
    return chela_short_long_conv_in_layout(ctx, x, short_weight, short_bias, long_weight, long_weight_rev, omega,
                                           out, causal, CHELA_CONV_LAYOUT_BLD);
}

extern "C" chela_status chela_short_long_conv_in_layout(chela_context* ctx, const chela_tensor* x,
                                                        const chela_tensor* short_weight,
                                                        const chela_tensor* short_bias,
                                                        const chela_tensor* long_weight,
                                                        const chela_tensor* long_weight_rev,
                                                        const chela_tensor* omega, chela_tensor* out,
                                                        int32_t causal, int32_t layout) {
    return guard([&] {
        chela_context& c = check_context(ctx);
        if (causal != 0 && causal != 1) fail(CHELA_ERR_INVALID_ARGUMENT, "causal: ", causal, " must be 0 or 1");
        if (layout != CHELA_CONV_LAYOUT_BLD && layout != CHELA_CONV_LAYOUT_BDL)
            fail(CHELA_ERR_INVALID_ARGUMENT, "layout: ", layout, " is not a chela_conv_layout (0 [B, L, d], 1 [B, d, L])");
        const bool bdl = layout == CHELA_CONV_LAYOUT_BDL;
        const int32_t dev = c.device;
        const chela_tensor& xt = check_tensor(x, "x", kFloats, {kAny, kAny, kAny}, dev);
        const int64_t B = xt.shape[0], L = xt.shape[bdl ? 2 : 1], d = xt.shape[bdl ? 1 : 2];
        const chela_tensor& sw = check_tensor(short_weight, "short_weight", kFloats, {d, kAny}, dev);
        const int64_t ks = sw.shape[1];
        if (ks < 1 || ks > kMaxShortKernel)
            fail(CHELA_ERR_SHAPE, "short_weight: kernel size ", ks, " is outside 1..", kMaxShortKernel);
        if (!causal && ks % 2 == 0)
            fail(CHELA_ERR_SHAPE, "short_weight: bidirectional short kernels must have odd size, got ", ks);
        const chela_tensor& sb = check_tensor(short_bias, "short_bias", kFloats, {d}, dev);
        const chela_tensor& lw = check_tensor(long_weight, "long_weight", kFloats, {d, kAny}, dev);
        const int64_t lk = lw.shape[1];
        if (lk < 1) fail(CHELA_ERR_SHAPE, "long_weight: kernel length must be >= 1");
        if (causal && long_weight_rev != nullptr)
            fail(CHELA_ERR_INVALID_ARGUMENT, "long_weight_rev: only for bidirectional (causal = 0)");
        if (!causal && long_weight_rev == nullptr)
            fail(CHELA_ERR_INVALID_ARGUMENT, "long_weight_rev: required when causal = 0");
        const chela_tensor* lr = causal ? nullptr : &check_tensor(long_weight_rev, "long_weight_rev", kFloats, {d, lk}, dev);
        const chela_tensor& om = check_tensor(omega, "omega", kFloats, {d}, dev);
        const chela_tensor& ot = check_tensor(out, "out", kFloats, {B, bdl ? d : L, bdl ? L : d}, dev);

        cpu::ShortLongConvParams p;
        p.B = B;
        p.L = L;
        p.d = d;
        p.ks = static_cast<int>(ks);
        p.Lk = lk;
        p.causal = causal != 0;
        if (dev == CHELA_DEVICE_CUDA) {
#ifdef CHELA_WITH_CUDA
            if (ot.dtype != xt.dtype)
                fail(CHELA_ERR_DTYPE, "out: the CUDA kernel needs out in the dtype of x (", dtype_name(xt.dtype), ")");
            cuda::ConvTensors t;
            t.x = xt.data;
            t.short_w = sw.data;
            t.short_b = sb.data;
            t.long_w = lw.data;
            t.long_w_rev = lr ? lr->data : nullptr;
            t.omega = om.data;
            t.out = ot.data;
            t.dtype = xt.dtype;
            t.channels_major = bdl;
            t.w_dtypes[0] = sw.dtype;
            t.w_dtypes[1] = sb.dtype;
            t.w_dtypes[2] = lw.dtype;
            t.w_dtypes[3] = lr ? lr->dtype : CHELA_DTYPE_F32;
            t.w_dtypes[4] = om.dtype;
            cuda::short_long_conv(c.device_index, c.stream, p, t);
            return;
#else
            fail(CHELA_ERR_UNSUPPORTED, "ctx: this libchela was built without CUDA");
#endif
        }
        F32Input xf(xt), swf(sw), sbf(sb), lwf(lw), omf(om);
        F32Input lrf(lr ? *lr : make_view(nullptr, {0}));
        F32Output of(ot);
        // The CPU kernel gathers blocks of channels from token rows itself; [B, d, L] goes through
        // one transpose each way (O(B L d), small beside the O(B d L log L) conv).
        std::vector<float> x_rows, out_rows;
        const float* xin = xf.data();
        float* res = of.data();
        if (bdl) {
            x_rows.resize(static_cast<size_t>(B * L * d));
            out_rows.resize(x_rows.size());
            transpose_rows(xf.data(), x_rows.data(), B, d, L);
            xin = x_rows.data();
            res = out_rows.data();
        }
        cpu::short_long_conv(*c.pool, p, xin, swf.data(), sbf.data(), lwf.data(), lr ? lrf.data() : nullptr,
                             omf.data(), res);
        if (bdl) transpose_rows(res, of.data(), B, L, d);
        of.commit();
    });
}

extern "C" chela_status chela_merge_short_kernels(const chela_tensor* const* weights,
                                                  const chela_tensor* const* biases, int32_t count,
                                                  int32_t causal, chela_tensor* out_weight,
                                                  chela_tensor* out_bias) {
    return guard([&] {
        if (count < 1 || count > kMaxBranches)
            fail(CHELA_ERR_INVALID_ARGUMENT, "count: ", count, " is outside 1..", kMaxBranches);
        if (weights == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "weights: array is null");
        if (biases == nullptr) fail(CHELA_ERR_INVALID_ARGUMENT, "biases: array is null");
        if (causal != 0 && causal != 1) fail(CHELA_ERR_INVALID_ARGUMENT, "causal: ", causal, " must be 0 or 1");
        std::vector<const float*> w, b;
        std::vector<int> sizes;
        int64_t d = -1;
        int max_ks = 0;
        for (int32_t i = 0; i < count; ++i) {
            const std::string wn = "weights[" + std::to_string(i) + "]", bn = "biases[" + std::to_string(i) + "]";
            const chela_tensor& wt = check_tensor(weights[i], wn.c_str(), kF32, {d < 0 ? kAny : d, kAny});
            d = wt.shape[0];
            const int64_t ks = wt.shape[1];
            if (ks < 1 || ks > kMaxShortKernel)
                fail(CHELA_ERR_SHAPE, wn, ": kernel size ", ks, " is outside 1..", kMaxShortKernel);
            if (!causal && ks % 2 == 0)
                fail(CHELA_ERR_SHAPE, wn, ": bidirectional branches must have odd size, got ", ks);
            const chela_tensor& bt = check_tensor(biases[i], bn.c_str(), kF32, {d});
            w.push_back(static_cast<const float*>(wt.data));
            b.push_back(static_cast<const float*>(bt.data));
            sizes.push_back(static_cast<int>(ks));
            max_ks = std::max(max_ks, static_cast<int>(ks));
        }
        const chela_tensor& ow = check_tensor(out_weight, "out_weight", kF32, {d, max_ks});
        const chela_tensor& ob = check_tensor(out_bias, "out_bias", kF32, {d});
        // Merge into scratch first: the outputs may alias an input branch.
        std::vector<float> mw(static_cast<size_t>(d * max_ks)), mb(static_cast<size_t>(d));
        cpu::merge_short_kernels(d, w, sizes, b, causal != 0, mw.data(), mb.data());
        std::copy(mw.begin(), mw.end(), static_cast<float*>(ow.data));
        std::copy(mb.begin(), mb.end(), static_cast<float*>(ob.data));
    });
}
