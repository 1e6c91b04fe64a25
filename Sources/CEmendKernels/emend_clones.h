// CLONES: build a function for AVX-512, AVX2 and plain x86-64, picked at load time (Linux x86-64 only).
#ifndef EMEND_CLONES_H
#define EMEND_CLONES_H
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EMEND_NO_CLONES 1  // ifunc resolvers run before ThreadSanitizer's runtime is up, and crash the loader
#endif
#endif
#if defined(__x86_64__) && defined(__linux__) && !defined(EMEND_NO_CLONES)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif
#endif
