/*
 * chela.h — the stable C ABI of libchela, the Chela4J native engine.
 *
 * CHELA (Liu et al., ICML 2024) layers: a short-long depthwise convolution and tiled
 * ("flash") linear attention inside MEGA's gated single-stream block. The model math is
 * defined in docs/spec (copied from the project's canonical spec); this header is the only
 * surface other languages see (the Java bindings are generated from it by jextract).
 *
 * Conventions
 *  - Every call returns a chela_status. CHELA_OK is 0; on any other value,
 *    chela_last_error() returns a message naming the argument and the problem. The message is
 *    thread-local and stays valid until the next failing call on the same thread.
 *  - No call aborts, throws or exits on bad input. Null pointers, wrong shapes, wrong dtypes and
 *    corrupt files are reported through the status.
 *  - Tensors are views: a data pointer plus dtype, placement, rank and shape, contiguous row-major.
 *    The library never takes ownership of a view's memory, except for tensors it allocated itself
 *    (chela_tensor_allocate / chela_tensor_release).
 *  - Enumerations travel as int32_t fields so that the struct layout does not depend on the
 *    compiler's choice of enum size.
 *  - Handles (chela_context, chela_model) are opaque. A context and the models loaded in it may be
 *    used from many threads at once; see each function for the exceptions.
 */
#ifndef CHELA_CHELA_H
#define CHELA_CHELA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define CHELA_API __declspec(dllexport)
#else
#define CHELA_API __attribute__((visibility("default")))
#endif

/* ---------------------------------------------------------------- version */

/* ABI version: bumped when a signature or struct layout in this header changes. */
#define CHELA_ABI_VERSION 1
#define CHELA_VERSION_MAJOR 0
#define CHELA_VERSION_MINOR 1
#define CHELA_VERSION_PATCH 0

/* "major.minor.patch", static storage. */
CHELA_API const char* chela_version(void);
/* CHELA_ABI_VERSION of the library actually loaded (compare with the header's). */
CHELA_API int32_t chela_abi_version(void);
/* One line describing how the library was built (backends, BLAS, FFT), static storage. */
CHELA_API const char* chela_build_info(void);

/* ---------------------------------------------------------------- errors */

typedef enum chela_status {
    CHELA_OK = 0,
    CHELA_ERR_INVALID_ARGUMENT = 1, /* null pointer, value out of range, bad option */
    CHELA_ERR_SHAPE = 2,            /* rank or extent does not match */
    CHELA_ERR_DTYPE = 3,            /* dtype not accepted for this argument */
    CHELA_ERR_IO = 4,               /* file missing or unreadable */
    CHELA_ERR_FORMAT = 5,           /* corrupt or inconsistent config.json / safetensors */
    CHELA_ERR_UNSUPPORTED = 6,      /* backend or feature not built / not available here */
    CHELA_ERR_OUT_OF_MEMORY = 7,
    CHELA_ERR_DEVICE = 8,           /* the accelerator runtime reported an error */
    CHELA_ERR_INTERNAL = 9          /* a bug in libchela: please report it */
} chela_status;

/* Message of the last failing call on this thread ("" if none). Never NULL. */
CHELA_API const char* chela_last_error(void);
/* Symbolic name of a status ("CHELA_ERR_SHAPE"), static storage. */
CHELA_API const char* chela_status_name(int32_t status);

/* ---------------------------------------------------------------- tensors */

typedef enum chela_dtype {
    CHELA_DTYPE_F32 = 0,
    CHELA_DTYPE_BF16 = 1,
    CHELA_DTYPE_F16 = 2,
    CHELA_DTYPE_I32 = 3,
    CHELA_DTYPE_I64 = 4
} chela_dtype;

typedef enum chela_device {
    CHELA_DEVICE_CPU = 0,
    CHELA_DEVICE_CUDA = 1
} chela_device;

#define CHELA_MAX_RANK 8

/* A view of contiguous row-major memory. The library reads `data` as `dtype` elements laid out
 * by `shape[0..rank)`; extents must be >= 0. `device` says where `data` lives. */
typedef struct chela_tensor {
    void* data;
    int32_t dtype;  /* chela_dtype */
    int32_t device; /* chela_device */
    int32_t rank;   /* 0 .. CHELA_MAX_RANK */
    int32_t reserved; /* must be 0 */
    int64_t shape[CHELA_MAX_RANK];
} chela_tensor;

/* Bytes of one element of `dtype` (0 for an unknown dtype). */
CHELA_API size_t chela_dtype_size(int32_t dtype);

/* ---------------------------------------------------------------- contexts */

/* A backend instance: the CPU with its thread pool, or one CUDA device with its stream. */
typedef struct chela_context chela_context;

/* 1 when this build and this machine can run `device` (chela_device), else 0. */
CHELA_API int32_t chela_backend_available(int32_t device);
/* Number of CUDA devices usable by this build (0 when built CPU-only or none present). */
CHELA_API chela_status chela_cuda_device_count(int32_t* count);

/* CPU context with `threads` workers (0 = one per hardware thread). */
CHELA_API chela_status chela_context_create_cpu(int32_t threads, chela_context** out);
/* CUDA context on device `device_index`; CHELA_ERR_UNSUPPORTED when built without CUDA. */
CHELA_API chela_status chela_context_create_cuda(int32_t device_index, chela_context** out);
/* Frees the context. Null is accepted. Models loaded in it must be destroyed first: destroying a
 * context that still has models returns CHELA_ERR_INVALID_ARGUMENT and frees nothing. */
CHELA_API chela_status chela_context_destroy(chela_context* ctx);
CHELA_API chela_status chela_context_device(const chela_context* ctx, int32_t* device);
CHELA_API chela_status chela_context_threads(const chela_context* ctx, int32_t* threads);
/* Waits for all work queued on the context (a no-op on the CPU, where calls are synchronous). */
CHELA_API chela_status chela_context_synchronize(chela_context* ctx);
/* CUDA contexts: queue later work on `stream` (a cudaStream_t owned by the caller, e.g. a
 * framework's current stream) instead of the context's own; NULL goes back to the context's own.
 * Calls stay asynchronous with respect to the host on that stream. CPU contexts: UNSUPPORTED. */
CHELA_API chela_status chela_context_set_cuda_stream(chela_context* ctx, void* stream);

/* Allocates a tensor on the context's device; fill `t->data`, `dtype`, `device`, `rank`, `shape`.
 * Release it with chela_tensor_release on the same context. */
CHELA_API chela_status chela_tensor_allocate(chela_context* ctx, int32_t dtype, int32_t rank,
                                             const int64_t* shape, chela_tensor* t);
CHELA_API chela_status chela_tensor_release(chela_context* ctx, chela_tensor* t);
/* Copies src into dst (same dtype and shape; any placement the context can reach). */
CHELA_API chela_status chela_tensor_copy(chela_context* ctx, const chela_tensor* src, chela_tensor* dst);

/* ---------------------------------------------------------------- ops */

typedef enum chela_feature_map {
    CHELA_FEATURE_IDENTITY = 0,
    CHELA_FEATURE_ELU1 = 1, /* ELU(x) + 1 */
    CHELA_FEATURE_RELU = 2,
    CHELA_FEATURE_SILU = 3
} chela_feature_map;

typedef enum chela_attn_norm {
    CHELA_ATTN_NORM_RMSNORM = 0,    /* RMSNorm over the whole f row, times a weight [f] */
    CHELA_ATTN_NORM_NONE = 1,
    CHELA_ATTN_NORM_DENOMINATOR = 2 /* divide each head by s*sum(decayed q.k) + eps */
} chela_attn_norm;

typedef struct chela_linear_attention_options {
    int32_t n_heads;     /* H >= 1, divides e and f */
    int32_t causal;      /* 1 causal, 0 bidirectional */
    int32_t feature_map; /* chela_feature_map */
    int32_t attn_norm;   /* chela_attn_norm */
    float scale;         /* s: finite, > 0 */
    float eps;           /* for rmsnorm and denominator: finite, > 0 */
    int32_t chunk_size;  /* tile length C; 0 = the backend's choice. Any C gives the same result. */
    int32_t reserved;    /* must be 0 */
} chela_linear_attention_options;

/* Fills the spec's defaults for a query/key width `z_dim` split in `n_heads` heads:
 * causal, identity feature map, rmsnorm, scale 1/sqrt(z_dim/n_heads), eps 1e-5, chunk 0. */
CHELA_API chela_status chela_linear_attention_options_init(chela_linear_attention_options* opts,
                                                           int64_t z_dim, int32_t n_heads);

/*
 * Linear attention, tiled (chunked): O(L) time and memory, never the LxL matrix.
 *   q, k: [B, L, e]   v: [B, L, f]   out: [B, L, f]      (f32, bf16 or f16; out any of these)
 *   decay:       [H] f32, each in (0, 1]; NULL = no decay (lambda = 1)
 *   norm_weight: [f] f32; required for CHELA_ATTN_NORM_RMSNORM, else must be NULL
 *   state_in:    [B, H, e/H, f/H] f32 running state (causal only), NULL = zero state
 *   ksum_in:     [B, H, e/H] f32 running decayed key sum (denominator only), NULL = zeros
 *   state_out, ksum_out: the same shapes, written with the state after the last position
 *                (causal only; NULL = not wanted). They may alias state_in / ksum_in.
 * Running the first part of a sequence with state_out, then the rest with that state as
 * state_in, equals one pass over the whole sequence (to rounding).
 */
CHELA_API chela_status chela_linear_attention(chela_context* ctx, const chela_tensor* q,
                                              const chela_tensor* k, const chela_tensor* v,
                                              const chela_tensor* decay,
                                              const chela_tensor* norm_weight,
                                              const chela_tensor* state_in,
                                              const chela_tensor* ksum_in, chela_tensor* out,
                                              chela_tensor* state_out, chela_tensor* ksum_out,
                                              const chela_linear_attention_options* opts);

/*
 * Short-long convolution: S = short depthwise conv (+bias) of x, A = SiLU(S),
 * G = long depthwise conv of A (causal; bidirectional adds the anti-causal half),
 * out = SiLU(G + omega * x). FFT-based, O(L log L).
 *   x: [B, L, d]   out: [B, L, d]                          (f32, bf16 or f16)
 *   short_weight: [d, ks] (ks <= 15, odd when bidirectional)   short_bias: [d]
 *   long_weight:  [d, Lk] (Lk >= 1)   long_weight_rev: [d, Lk] bidirectional only, else NULL
 *   omega: [d]                                             (weights f32, bf16 or f16)
 * Tap order: index 0 of w_s and w_l multiplies the current step (see docs/decisions.md).
 */
CHELA_API chela_status chela_short_long_conv(chela_context* ctx, const chela_tensor* x,
                                             const chela_tensor* short_weight,
                                             const chela_tensor* short_bias,
                                             const chela_tensor* long_weight,
                                             const chela_tensor* long_weight_rev,
                                             const chela_tensor* omega, chela_tensor* out,
                                             int32_t causal);

/* Memory order of the short-long convolution's x and out. */
typedef enum chela_conv_layout {
    CHELA_CONV_LAYOUT_BLD = 0, /* [B, L, d]: token rows, channels fastest (the layer's activations) */
    CHELA_CONV_LAYOUT_BDL = 1  /* [B, d, L]: each channel's sequence contiguous (PyTorch conv1d's
                                * [N, C, L], the Hyena/safari convention) */
} chela_conv_layout;

/*
 * chela_short_long_conv with x and out in `layout` (chela_conv_layout): [B, L, d] for
 * CHELA_CONV_LAYOUT_BLD (what chela_short_long_conv takes), [B, d, L] for CHELA_CONV_LAYOUT_BDL.
 * Weights and results are the same; only the order of x's and out's elements differs. The CUDA
 * FFT paths transform channels along L, so [B, d, L] saves them a transpose of x and of out.
 */
CHELA_API chela_status chela_short_long_conv_in_layout(chela_context* ctx, const chela_tensor* x,
                                                       const chela_tensor* short_weight,
                                                       const chela_tensor* short_bias,
                                                       const chela_tensor* long_weight,
                                                       const chela_tensor* long_weight_rev,
                                                       const chela_tensor* omega, chela_tensor* out,
                                                       int32_t causal, int32_t layout);

/*
 * Structural reparameterisation: sums `count` short-conv branches (weights [d, ks_i],
 * biases [d]) into one kernel [d, max ks_i] and one bias [d]. Causal: branches are zero-padded
 * at their old end (lag 0 stays index 0). Bidirectional: each ks_i odd, padded equally on both
 * sides (centres aligned). Host f32 tensors.
 */
CHELA_API chela_status chela_merge_short_kernels(const chela_tensor* const* weights,
                                                 const chela_tensor* const* biases,
                                                 int32_t count, int32_t causal,
                                                 chela_tensor* out_weight, chela_tensor* out_bias);

/* ---------------------------------------------------------------- models */

typedef struct chela_model chela_model;

typedef enum chela_norm_kind { CHELA_NORM_LAYERNORM = 0, CHELA_NORM_RMSNORM = 1 } chela_norm_kind;
typedef enum chela_task { CHELA_TASK_LM = 0, CHELA_TASK_CLASSIFY = 1 } chela_task;
typedef enum chela_pooling { CHELA_POOLING_MEAN = 0, CHELA_POOLING_LAST = 1 } chela_pooling;

/* config.json, parsed and with defaults applied. 0 in vocab_size / input_dim / num_classes
 * means "not set". Enumerations as int32_t. */
typedef struct chela_model_config {
    int32_t d_model;
    int32_t z_dim;
    int32_t v_dim;
    int32_t n_heads;
    int32_t n_layers;
    int32_t short_kernel;
    int32_t long_kernel;
    int32_t max_len;
    int32_t causal;
    int32_t prenorm;
    int32_t norm;        /* chela_norm_kind */
    int32_t feature_map; /* chela_feature_map */
    int32_t attn_norm;   /* chela_attn_norm */
    float attn_scale;
    int32_t decay;
    int32_t ffn_dim;
    int32_t task;        /* chela_task */
    int32_t vocab_size;
    int32_t input_dim;
    int32_t num_classes;
    int32_t pooling;     /* chela_pooling */
    int32_t tie_embeddings;
    float eps;
    int32_t reserved;
} chela_model_config;

/* Loads `dir`/config.json and `dir`/model.safetensors (memory-mapped, validated strictly: every
 * problem names the key or tensor). The model keeps a reference to `ctx`. */
CHELA_API chela_status chela_model_load(chela_context* ctx, const char* dir, chela_model** out);
/* Frees the model. Null is accepted. Must not race with a call using the model. A model that
 * still has streaming states (chela_state_create) is not freed: CHELA_ERR_INVALID_ARGUMENT. */
CHELA_API chela_status chela_model_destroy(chela_model* model);
CHELA_API chela_status chela_model_get_config(const chela_model* model, chela_model_config* out);

/* Number of weight tensors after loading (branches merged), their names, and read-only f32 views. */
CHELA_API chela_status chela_model_tensor_count(const chela_model* model, int32_t* count);
CHELA_API chela_status chela_model_tensor_name(const chela_model* model, int32_t index,
                                               const char** name);
CHELA_API chela_status chela_model_tensor(const chela_model* model, const char* name,
                                          chela_tensor* view);

/*
 * Whole-model forward.
 *   inputs:  token ids [B, L] i32 (models with vocab_size) or features [B, L, input_dim]
 *            (f32, bf16 or f16; models with input_dim). Ids outside [0, vocab) are an error.
 *   lengths: [B] i32 valid lengths (1..L) for classifiers over unequal lengths; NULL = all L.
 *            Padded positions never influence valid ones.
 *   out:     task=lm: logits [B, L, vocab]; task=classify: logits [B, num_classes]. f32.
 * Safe to call from many threads at once on one model.
 */
CHELA_API chela_status chela_model_forward(chela_model* model, const chela_tensor* inputs,
                                           const chela_tensor* lengths, chela_tensor* out);

/* One CHELA layer (index `layer`, 0-based) of the model: x [B, L, d] -> y [B, L, d], f32. */
CHELA_API chela_status chela_model_layer_forward(chela_model* model, int32_t layer,
                                                 const chela_tensor* x, chela_tensor* y);

/* ---------------------------------------------------------------- streaming (causal LMs) */

/*
 * The running state of B token streams through a causal language model (spec "Streaming /
 * decode"): per layer the last short_kernel-1 rows of Xn, the last long_kernel-1 rows of A and
 * the attention state S per head (plus the key sum for attn_norm denominator). Prefill of t
 * tokens followed by n decode steps gives the logits of one forward pass over the t+n tokens.
 * Costs: a prefill on a fresh state is the forward pass (O(t log t) conv, O(t) attention); a
 * decode step is O(long_kernel * d) per layer for the long conv plus O(e*f/H) for attention, so
 * a step does not grow with the context. A prefill on a state that already holds tokens
 * continues it (multi-turn prompts) with the direct conv sum, O(t * long_kernel * d) per layer.
 * A state is used by one thread at a time; the model may serve many states at once. A call that
 * fails on bad input leaves the state as it was; a failure inside the computation marks the state
 * unusable until chela_state_reset.
 */
typedef struct chela_state chela_state;

/* A fresh state for `batch` streams of a CPU model with causal=1 and task=lm. */
CHELA_API chela_status chela_state_create(chela_model* model, int64_t batch, chela_state** out);
/* Frees the state. Null is accepted. */
CHELA_API chela_status chela_state_destroy(chela_state* state);
/* Back to the empty stream (no tokens seen). */
CHELA_API chela_status chela_state_reset(chela_state* state);
/* Tokens consumed per stream so far. */
CHELA_API chela_status chela_state_position(const chela_state* state, int64_t* tokens);

/*
 * Feeds a prompt: inputs token ids [B, t] i32 (or features [B, t, input_dim]); t >= 1.
 * logits: f32 [B, vocab] for the last position, or [B, t, vocab] for every position.
 */
CHELA_API chela_status chela_state_prefill(chela_state* state, const chela_tensor* inputs,
                                           chela_tensor* logits);
/* One step: inputs token ids [B] i32 (or features [B, input_dim]); logits f32 [B, vocab]. */
CHELA_API chela_status chela_state_decode(chela_state* state, const chela_tensor* inputs,
                                          chela_tensor* logits);

/* Next-token sampling. temperature 0 = greedy (argmax; ties take the lowest id). Otherwise the
 * logits are divided by the temperature, cut to the top_k largest (0 = all), softmaxed, cut to the
 * smallest set of most likely ids whose probability reaches top_p (1 = all), and one id is drawn. */
typedef struct chela_sampling_options {
    float temperature; /* >= 0, finite */
    int32_t top_k;     /* >= 0 */
    float top_p;       /* in (0, 1] */
    int32_t reserved;  /* must be 0 */
} chela_sampling_options;

/* Greedy: temperature 0, top_k 0, top_p 1. */
CHELA_API chela_status chela_sampling_options_init(chela_sampling_options* opts);

/*
 * Draws one id per row of logits [B, V] (f32, host) into ids [B] (i32). `rng` is the caller's
 * generator state (seed it with any value; it is advanced by each draw), so equal seeds give equal
 * ids on every machine.
 */
CHELA_API chela_status chela_sample(const chela_tensor* logits, const chela_sampling_options* opts,
                                    uint64_t* rng, chela_tensor* ids);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CHELA_CHELA_H */
