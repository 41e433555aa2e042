// Hot loops are compiled several times, for AVX-512, AVX2+FMA and baseline x86-64, and the
// loader picks the best one for the running CPU (GCC/Clang function multi-versioning). The
// library therefore runs correctly on any x86-64 and fast on recent ones, without -march=native.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(CHELA_NO_MULTIVERSION) && \
    !defined(__clang__)
#define CHELA_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CHELA_MULTIVERSION
#endif

// `restrict` for C++ (GCC and Clang both accept __restrict__).
#define CHELA_RESTRICT __restrict__
