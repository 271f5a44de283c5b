/* cpu.c — which kernel code path runs: the best this CPU supports, or LOCKSTEP_ISA.
 *
 * All paths give identical bits, so the choice only changes speed. It is read once, before
 * the first kernel (lazily, from ls_isa_current), and kept in one global. ls_isa_select is
 * meant to be called before worker threads start (tests, the command line). */
#include "quant/quant.h"
#include "base/error.h"

#include <stdlib.h>
#include <cpuid.h>
#include <string.h>

static int isa_chosen = -1; /* -1: not chosen yet */

/* F16C: CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c"). */
static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
}

static int cpu_has(ls_isa isa) {
    switch (isa) {
    case LS_ISA_SCALAR: return 1;
    case LS_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               cpu_has_f16c();
    case LS_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vnni") && cpu_has_f16c();
    }
    return 0;
}

ls_isa ls_isa_best(void) {
    __builtin_cpu_init();
    if (cpu_has(LS_ISA_AVX512)) return LS_ISA_AVX512;
    if (cpu_has(LS_ISA_AVX2)) return LS_ISA_AVX2;
    return LS_ISA_SCALAR;
}

const char *ls_isa_name(ls_isa isa) {
    switch (isa) {
    case LS_ISA_SCALAR: return "scalar";
    case LS_ISA_AVX2: return "avx2";
    case LS_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

int ls_isa_select(ls_isa isa) {
    __builtin_cpu_init();
    if (isa != LS_ISA_SCALAR && isa != LS_ISA_AVX2 && isa != LS_ISA_AVX512) return -1;
    if (!cpu_has(isa)) return -1;
    __atomic_store_n(&isa_chosen, (int)isa, __ATOMIC_RELAXED);
    return 0;
}

/* 0 and *isa set when the variable names a usable path; 1 when unset; -1 otherwise. */
static int isa_from_env(ls_isa *isa, char *err) {
    const char *v = getenv("LOCKSTEP_ISA");
    if (!v || !*v) return 1;
    for (int i = LS_ISA_SCALAR; i <= LS_ISA_AVX512; i++) {
        if (strcmp(v, ls_isa_name((ls_isa)i)) == 0) {
            if (!cpu_has((ls_isa)i))
                return ls_fail(err, "LOCKSTEP_ISA=%s: this CPU lacks %s", v, v);
            *isa = (ls_isa)i;
            return 0;
        }
    }
    return ls_fail(err, "LOCKSTEP_ISA=%.64s: unknown (use scalar, avx2 or avx512)", v);
}

int ls_isa_init_from_env(char *err) {
    ls_isa isa;
    int r = isa_from_env(&isa, err);
    if (r < 0) return -1;
    return ls_isa_select(r == 0 ? isa : ls_isa_best());
}

ls_isa ls_isa_current(void) {
    int v = __atomic_load_n(&isa_chosen, __ATOMIC_RELAXED);
    if (v >= 0) return (ls_isa)v;
    ls_isa isa;
    if (isa_from_env(&isa, NULL) != 0) isa = ls_isa_best();
    __atomic_store_n(&isa_chosen, (int)isa, __ATOMIC_RELAXED);
    return isa;
}
