/* machine.c — the machine model: its file, the built-in figures and the merge of
 * calibrations (see cost.h).
 *
 * The file is JSON written by ls_machine_save and read back by a small parser that knows
 * only what ls_machine_save writes: objects, arrays, numbers and strings; every number is
 * stored by its path ("read_gbs[1][3]", "matmul_gmacs.Q8_0[0][2]"), every index is checked,
 * and a file missing a figure is refused with one line naming it. */
#include "compile/cost.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "quant/quant.h"

const ls_dtype ls_machine_types[LS_MACHINE_TYPES] = {
    LS_F32, LS_F16, LS_BF16, LS_Q4_0, LS_Q5_0, LS_Q8_0, LS_Q4_K, LS_Q5_K, LS_Q6_K};

const char *const ls_rate_names[LS_RATE_COUNT] = {
    [LS_RATE_EMBED] = "embed",         [LS_RATE_RMSNORM] = "rmsnorm",
    [LS_RATE_QUANTIZE] = "quantize",   [LS_RATE_ADD] = "add",
    [LS_RATE_ROPE] = "rope",           [LS_RATE_KV_STORE] = "kv_store",
    [LS_RATE_GLU_GELU] = "glu_gelu",   [LS_RATE_GLU_SILU] = "glu_silu",
};

const int ls_machine_head_dims[LS_MACHINE_HEAD_DIMS] = {32, 64, 128, 256};
const double ls_machine_stream_bytes[LS_MACHINE_STREAMS] = {16.0 * 1048576, 256.0 * 1048576, 1024.0 * 1048576};

int ls_machine_type_index(int dtype) {
    for (int i = 0; i < LS_MACHINE_TYPES; i++)
        if ((int)ls_machine_types[i] == dtype) return i;
    return -1;
}

const char *ls_machine_path(void) {
    static char path[PATH_MAX];
    const char *env = getenv("LOCKSTEP_MACHINE");
    if (env && *env) return env;
    const char *home = getenv("HOME");
    snprintf(path, sizeof path, "%s/.cache/lockstep/machine.json", home && *home ? home : ".");
    return path;
}

/* ---- the file ------------------------------------------------------------------------ */

/* ,\n "key": {"TYPE": [[group figures] per thread count], ...} */
static void save_groups(FILE *f, const char *key, const double table[][LS_MACHINE_THREADS][LS_MACHINE_GROUPS],
                        int n_threads) {
    fprintf(f, ",\n  \"%s\": {", key);
    for (int k = 0; k < LS_MACHINE_TYPES; k++) {
        fprintf(f, "%s\n    \"%s\": [", k ? "," : "", ls_dtype_find(ls_machine_types[k])->name);
        for (int t = 0; t < n_threads; t++) {
            fprintf(f, "%s[", t ? ", " : "");
            for (int g = 0; g < LS_MACHINE_GROUPS; g++) fprintf(f, "%s%.4g", g ? ", " : "", table[k][t][g]);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fputc('}', f);
}

/* ,\n  "name": [[width figures], ...] for thread counts 1..n; row t at table + t * width. */
static void save_rows(FILE *f, const char *name, const double *table, int width, int n) {
    fprintf(f, ",\n  \"%s\": [", name);
    for (int t = 0; t < n; t++) {
        fprintf(f, "%s[", t ? ", " : "");
        for (int i = 0; i < width; i++) fprintf(f, "%s%.4g", i ? ", " : "", table[t * width + i]);
        fputc(']', f);
    }
    fputc(']', f);
}

int ls_machine_save(const ls_machine *m, const char *path, char *err) {
    char tmp[PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return ls_fail(err, "cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "{\n  \"format\": \"lockstep-machine-13\",\n  \"threads\": %d,\n  \"calibrations\": %d,\n  \"sizes\": [",
            m->n_threads, m->calibrations);
    for (int s = 0; s < m->n_sizes; s++) fprintf(f, "%s%.0f", s ? ", " : "", m->size_bytes[s]);
    fprintf(f, "],\n  \"read_gbs\": [");
    for (int t = 0; t < m->n_threads; t++) {
        fprintf(f, "%s\n    [", t ? "," : "");
        for (int s = 0; s < m->n_sizes; s++) fprintf(f, "%s%.4g", s ? ", " : "", m->read_gbs[t][s]);
        fputc(']', f);
    }
    fprintf(f, "],\n  \"barrier_us\": [");
    for (int t = 0; t < m->n_threads; t++) fprintf(f, "%s%.4g", t ? ", " : "", m->barrier_us[t]);
    fprintf(f, "],\n  \"call_us\": [");
    for (int t = 0; t < m->n_threads; t++) fprintf(f, "%s%.4g", t ? ", " : "", m->call_us[t]);
    fprintf(f, "],\n  \"stream_short_gmacs\": [");
    for (int t = 0; t < m->n_threads; t++) fprintf(f, "%s%.4g", t ? ", " : "", m->stream_short_gmacs[t]);
    fprintf(f, "],\n  \"compute_stretch\": [");
    for (int t = 0; t < m->n_threads; t++) fprintf(f, "%s%.4g", t ? ", " : "", m->compute_stretch[t]);
    fprintf(f, "],\n  \"workload_ms\": [");
    for (int t = 0; t < m->n_threads; t++) fprintf(f, "%s%.4g", t ? ", " : "", m->workload_ms[t]);
    fprintf(f, "]");
    save_rows(f, "stream_stretch", &m->stream_stretch[0][0], LS_MACHINE_STREAMS, m->n_threads);
    save_rows(f, "cold_us", &m->cold_us[0][0], LS_MACHINE_STREAMS, m->n_threads);
    save_rows(f, "cold_line_ns", &m->cold_line_ns[0][0], LS_MACHINE_STREAMS, m->n_threads);
    save_groups(f, "matmul_gmacs", m->matmul_gmacs, m->n_threads);
    save_groups(f, "matmul_gmacs_512", m->matmul_gmacs_512, m->n_threads);
    save_groups(f, "matmul_gmacs_256", m->matmul_gmacs_256, m->n_threads);
    save_groups(f, "matmul_gmacs_288", m->matmul_gmacs_288, m->n_threads);
    save_groups(f, "matmul_gmacs_640", m->matmul_gmacs_640, m->n_threads);
    fprintf(f, ",\n  \"rates_g\": {");
    for (int r = 0; r < LS_RATE_COUNT; r++) {
        fprintf(f, "%s\n    \"%s\": [", r ? "," : "", ls_rate_names[r]);
        for (int t = 0; t < m->n_threads; t++) fprintf(f, "%s%.4g", t ? ", " : "", m->rate_g[r][t]);
        fputc(']', f);
    }
    fputc('}', f);
    save_rows(f, "attention_gpairs", &m->attention_gpairs[0][0], LS_MACHINE_HEAD_DIMS, m->n_threads);
    save_rows(f, "attention_grows", &m->attention_grows[0][0], LS_MACHINE_HEAD_DIMS, m->n_threads);
    fprintf(f, ",\n  \"matmul_stream_gmacs\": {");
    for (int k = 0; k < LS_MACHINE_TYPES; k++) {
        fprintf(f, "%s\n    \"%s\": [", k ? "," : "", ls_dtype_find(ls_machine_types[k])->name);
        for (int t = 0; t < m->n_threads; t++) {
            fprintf(f, "%s[", t ? ", " : "");
            for (int i = 0; i < LS_MACHINE_STREAMS; i++) fprintf(f, "%s%.4g", i ? ", " : "", m->matmul_stream_gmacs[k][t][i]);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fprintf(f, "}\n}\n");
    int bad = ferror(f);
    if (fclose(f) || bad || rename(tmp, path)) {
        int e = errno;
        unlink(tmp);
        return ls_fail(err, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

typedef struct parser {
    const char *s, *end;
    char path[96];
    int index[4], depth;
    ls_machine *m;
    const char *name; /* for messages */
    char *err;
    bool format_ok;
} parser;

static void skip_space(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\n' || *p->s == '\r' || *p->s == '\t')) p->s++;
}

static int bad(parser *p, const char *what) {
    return ls_fail(p->err, "%s: %s", p->name, what);
}

/* A string without escapes, into out (NUL-terminated). */
static int parse_string(parser *p, char *out, size_t size) {
    if (p->s >= p->end || *p->s != '"') return bad(p, "expected a string");
    size_t n = 0;
    for (p->s++; p->s < p->end && *p->s != '"'; p->s++) {
        if (*p->s == '\\' || (unsigned char)*p->s < 32 || n + 1 >= size) return bad(p, "unexpected string");
        out[n++] = *p->s;
    }
    if (p->s >= p->end) return bad(p, "unterminated string");
    p->s++;
    out[n] = 0;
    return 0;
}

/* The index in ls_machine_types of the type called name, or -1. */
static int type_named(const char *name) {
    for (int i = 0; i < LS_MACHINE_TYPES; i++)
        if (!strcmp(name, ls_dtype_find(ls_machine_types[i])->name)) return i;
    return -1;
}

/* The [type][T-1][group] table the path names (".matmul_gmacs.Q8_0" and the like), with the
 * type's name after it. */
static bool group_table(parser *p, double (**table)[LS_MACHINE_THREADS][LS_MACHINE_GROUPS], const char **name) {
    static const char *const keys[5] = {".matmul_gmacs.", ".matmul_gmacs_512.", ".matmul_gmacs_256.",
                                        ".matmul_gmacs_288.", ".matmul_gmacs_640."};
    double (*const tables[5])[LS_MACHINE_THREADS][LS_MACHINE_GROUPS] = {
        p->m->matmul_gmacs, p->m->matmul_gmacs_512, p->m->matmul_gmacs_256, p->m->matmul_gmacs_288,
        p->m->matmul_gmacs_640};
    for (int i = 0; i < 5; i++)
        if (!strncmp(p->path, keys[i], strlen(keys[i]))) {
            *table = tables[i];
            *name = p->path + strlen(keys[i]);
            return true;
        }
    return false;
}

/* Stores the number at the current path and indices. */
static int store(parser *p, double v) {
    ls_machine *m = p->m;
    double (*table)[LS_MACHINE_THREADS][LS_MACHINE_GROUPS] = NULL;
    const char *name = NULL;
    const int *ix = p->index;
    int d = p->depth;
    if (!(v > -1e18 && v < 1e18)) return bad(p, "a figure is not finite");
    if (v < 0) return bad(p, "a figure is negative");
#define IN(i, n) ((i) >= 0 && (i) < (n))
    if (!strcmp(p->path, ".threads") && d == 0) {
        if (v < 1 || v > LS_MACHINE_THREADS || v != (int)v) return bad(p, "threads is out of range");
        m->n_threads = (int)v;
    } else if (!strcmp(p->path, ".calibrations") && d == 0) {
        if (v < 1 || v > 1e6 || v != (int)v) return bad(p, "calibrations is out of range");
        m->calibrations = (int)v;
    } else if (!strcmp(p->path, ".sizes") && d == 1 && IN(ix[0], LS_MACHINE_SIZES)) {
        m->size_bytes[ix[0]] = v;
        if (ix[0] + 1 > m->n_sizes) m->n_sizes = ix[0] + 1;
    } else if (!strcmp(p->path, ".read_gbs") && d == 2 && IN(ix[0], LS_MACHINE_THREADS) && IN(ix[1], LS_MACHINE_SIZES)) {
        m->read_gbs[ix[0]][ix[1]] = v;
    } else if (!strcmp(p->path, ".barrier_us") && d == 1 && IN(ix[0], LS_MACHINE_THREADS)) {
        m->barrier_us[ix[0]] = v;
    } else if (!strcmp(p->path, ".call_us") && d == 1 && IN(ix[0], LS_MACHINE_THREADS)) {
        m->call_us[ix[0]] = v;
    } else if (!strcmp(p->path, ".stream_short_gmacs") && d == 1 && IN(ix[0], LS_MACHINE_THREADS)) {
        m->stream_short_gmacs[ix[0]] = v;
    } else if (!strcmp(p->path, ".compute_stretch") && d == 1 && IN(ix[0], LS_MACHINE_THREADS)) {
        if (v < 1 || v > 10) return bad(p, "compute_stretch is outside 1..10");
        m->compute_stretch[ix[0]] = v;
    } else if (!strcmp(p->path, ".workload_ms") && d == 1 && IN(ix[0], LS_MACHINE_THREADS)) {
        m->workload_ms[ix[0]] = v;
    } else if (!strcmp(p->path, ".stream_stretch") && d == 2 && IN(ix[0], LS_MACHINE_THREADS) &&
               IN(ix[1], LS_MACHINE_STREAMS)) {
        if (v < 1 || v > 10) return bad(p, "stream_stretch is outside 1..10");
        m->stream_stretch[ix[0]][ix[1]] = v;
    } else if (!strcmp(p->path, ".cold_us") && d == 2 && IN(ix[0], LS_MACHINE_THREADS) && IN(ix[1], LS_MACHINE_STREAMS)) {
        m->cold_us[ix[0]][ix[1]] = v;
    } else if (!strcmp(p->path, ".cold_line_ns") && d == 2 && IN(ix[0], LS_MACHINE_THREADS) &&
               IN(ix[1], LS_MACHINE_STREAMS)) {
        m->cold_line_ns[ix[0]][ix[1]] = v;
    } else if (!strncmp(p->path, ".matmul_stream_gmacs.", 21) && d == 2 && IN(ix[0], LS_MACHINE_THREADS) &&
               IN(ix[1], LS_MACHINE_STREAMS)) {
        int k = type_named(p->path + 21);
        if (k < 0) return bad(p, "unknown weight type in matmul_stream_gmacs");
        m->matmul_stream_gmacs[k][ix[0]][ix[1]] = v;
    } else if (group_table(p, &table, &name) && d == 2 && IN(ix[0], LS_MACHINE_THREADS) && IN(ix[1], LS_MACHINE_GROUPS)) {
        int k = type_named(name);
        if (k < 0) return bad(p, "unknown weight type in a matmul table");
        table[k][ix[0]][ix[1]] = v;
    } else if (!strcmp(p->path, ".attention_gpairs") && d == 2 && IN(ix[0], LS_MACHINE_THREADS) &&
               IN(ix[1], LS_MACHINE_HEAD_DIMS)) {
        m->attention_gpairs[ix[0]][ix[1]] = v;
    } else if (!strcmp(p->path, ".attention_grows") && d == 2 && IN(ix[0], LS_MACHINE_THREADS) &&
               IN(ix[1], LS_MACHINE_HEAD_DIMS)) {
        m->attention_grows[ix[0]][ix[1]] = v;
    } else if (!strncmp(p->path, ".rates_g.", 9) && d == 1 && IN(ix[0], LS_MACHINE_THREADS)) {
        int r = -1;
        for (int i = 0; i < LS_RATE_COUNT; i++)
            if (!strcmp(p->path + 9, ls_rate_names[i])) r = i;
        if (r < 0) return bad(p, "unknown kernel in rates_g");
        m->rate_g[r][ix[0]] = v;
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "unexpected number at %s", p->path);
        return bad(p, msg);
    }
#undef IN
    return 0;
}

static int parse_value(parser *p, int nesting) {
    if (nesting > 8) return bad(p, "nested too deeply");
    skip_space(p);
    if (p->s >= p->end) return bad(p, "ends early");
    char c = *p->s;
    if (c == '{') {
        p->s++;
        size_t base = strlen(p->path);
        skip_space(p);
        if (p->s < p->end && *p->s == '}') return p->s++, 0;
        for (;;) {
            char key[48];
            skip_space(p);
            if (parse_string(p, key, sizeof key)) return -1;
            if (base + 1 + strlen(key) + 1 > sizeof p->path) return bad(p, "key too long");
            p->path[base] = '.';
            strcpy(p->path + base + 1, key);
            skip_space(p);
            if (p->s >= p->end || *p->s++ != ':') return bad(p, "expected ':'");
            if (parse_value(p, nesting + 1)) return -1;
            p->path[base] = 0;
            skip_space(p);
            if (p->s < p->end && *p->s == ',') { p->s++; continue; }
            if (p->s < p->end && *p->s == '}') { p->s++; return 0; }
            return bad(p, "expected ',' or '}'");
        }
    }
    if (c == '[') {
        p->s++;
        if (p->depth >= 4) return bad(p, "arrays nested too deeply");
        int level = p->depth++;
        p->index[level] = 0;
        skip_space(p);
        if (p->s < p->end && *p->s == ']') { p->s++; p->depth--; return 0; }
        for (;;) {
            if (parse_value(p, nesting + 1)) return -1;
            skip_space(p);
            if (p->s < p->end && *p->s == ',') { p->s++; p->index[level]++; continue; }
            if (p->s < p->end && *p->s == ']') { p->s++; p->depth--; return 0; }
            return bad(p, "expected ',' or ']'");
        }
    }
    if (c == '"') {
        char text[64];
        if (parse_string(p, text, sizeof text)) return -1;
        if (!strcmp(p->path, ".format") && !strcmp(text, "lockstep-machine-13")) p->format_ok = true;
        return 0;
    }
    char number[40];
    size_t n = 0;
    while (p->s < p->end && n + 1 < sizeof number && strchr("0123456789+-.eE", *p->s)) number[n++] = *p->s++;
    number[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(number, &end);
    if (!n || *end || errno) return bad(p, "expected a number");
    return store(p, v);
}

int ls_machine_parse(ls_machine *m, const char *text, size_t size, const char *name, char *err) {
    memset(m, 0, sizeof *m);
    parser p = {.s = text, .end = text + size, .m = m, .name = name, .err = err};
    if (parse_value(&p, 0)) return -1;
    skip_space(&p);
    if (p.s != p.end) return bad(&p, "text after the end");
    if (!p.format_ok) return bad(&p, "not a lockstep machine model (format)");
    if (m->n_threads < 1 || m->n_sizes < 1 || m->calibrations < 1) return bad(&p, "threads, calibrations or sizes missing");
    for (int s = 0; s < m->n_sizes; s++)
        if (m->size_bytes[s] <= 0 || (s && m->size_bytes[s] <= m->size_bytes[s - 1]))
            return bad(&p, "sizes must be positive and ascending");
    for (int t = 0; t < m->n_threads; t++) {
        bool ok = m->barrier_us[t] > 0 && m->call_us[t] > 0 && m->stream_short_gmacs[t] > 0 &&
                  m->compute_stretch[t] >= 1 && m->workload_ms[t] > 0;
        for (int s = 0; s < m->n_sizes; s++) ok = ok && m->read_gbs[t][s] > 0;
        for (int k = 0; k < LS_MACHINE_TYPES; k++)
            for (int g = 0; g < LS_MACHINE_GROUPS; g++)
                ok = ok && m->matmul_gmacs[k][t][g] > 0 && m->matmul_gmacs_512[k][t][g] > 0 &&
                     m->matmul_gmacs_256[k][t][g] > 0 && m->matmul_gmacs_288[k][t][g] > 0 &&
                     m->matmul_gmacs_640[k][t][g] > 0;
        for (int k = 0; k < LS_MACHINE_TYPES; k++)
            for (int i = 0; i < LS_MACHINE_STREAMS; i++) ok = ok && m->matmul_stream_gmacs[k][t][i] > 0;
        for (int i = 0; i < LS_MACHINE_STREAMS; i++) ok = ok && m->stream_stretch[t][i] >= 1;
        for (int r = 0; r < LS_RATE_COUNT; r++) ok = ok && m->rate_g[r][t] > 0;
        for (int h = 0; h < LS_MACHINE_HEAD_DIMS; h++)
            ok = ok && m->attention_gpairs[t][h] > 0 && m->attention_grows[t][h] > 0;
        if (!ok) {
            char msg[96];
            snprintf(msg, sizeof msg, "a figure for %d thread(s) is missing or zero", t + 1);
            return bad(&p, msg);
        }
    }
    snprintf(m->source, sizeof m->source, "%s", name);
    return 0;
}

/* Measured by `lockstep calibrate` on this project's machine as of 2026-12-05: an Intel Xeon
 * (Emerald Rapids, 260 MiB L3 shared with the host's other guests) with 2 vCPUs, AVX-512
 * kernels (those of 2026-12-05: two-cursor prefetch, a last group of 4 blocks on full-width
 * registers, the Q4_0 one-token kernel of 0303b65, the 16-row lane fold); six calibrations
 * in five minutes (17:10-17:16) merged by calibrate (the compute stretch fitted to the
 * workload in place read 1.18-1.23 in each with two threads, 1.13-1.16 with one; the
 * barrier reads 0.05 us or 0.5 as the host places the vCPUs).
 * DRAM, in 2 MiB pages: 17 GB/s with 1 thread, 29 with 2. The figures before them came from
 * an AMD EPYC (Zen 4). Kernels change: recalibrate after they do (a few runs merged into one
 * file, tools/machine_builtin.py) and paste its output here. */
static const char builtin_machine[] =
    "{\"format\": \"lockstep-machine-13\", \"threads\": 2, \"calibrations\": 6,\n"
    " \"sizes\": [262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, 25165824, 33554432, 50331648, 67108864, 268435456],\n"
    " \"read_gbs\": [[108.2, 106.9, 106.1, 65.39, 30.45, 29.88, 29.86, 29.88, 29.81, 29.67, 28.96, 16.77], [215.9, 215.7, 212.5, 209.4, 127.3, 61.22, 60.62, 60.58, 60.58, 60.51, 60.47, 29.39]],\n"
    " \"barrier_us\": [0.001, 0.5228], \"call_us\": [0.001, 0.5228],\n"
    " \"stream_short_gmacs\": [26, 51.16],\n"
    " \"compute_stretch\": [1.147, 1.218], \"workload_ms\": [40.42, 21.54],\n"
    " \"stream_stretch\": [[1.032, 1.075, 1.027], [1.083, 1.118, 1.072]],\n"
    " \"cold_us\": [[0.1252, 0.5309, 0.6819], [0.1523, 0.3026, 0.733]], \"cold_line_ns\": [[2.538, 5.24, 5.962], [2.524, 3.904, 5.585]],\n"
    " \"matmul_gmacs\": {\n"
    "  \"F32\": [[15.71, 20.65, 23.8, 26.73], [31.24, 41.28, 47.52, 51.25]],\n"
    "  \"F16\": [[12.4, 17.12, 20.61, 23.4], [24.83, 33.64, 40.24, 46.68]],\n"
    "  \"BF16\": [[11.67, 16.69, 21.12, 23.92], [23.26, 33.26, 41.53, 47.43]],\n"
    "  \"Q4_0\": [[69.31, 94.86, 116.2, 133.6], [138.3, 188.2, 229.8, 275.4]],\n"
    "  \"Q5_0\": [[53.17, 77.48, 100.1, 113.2], [105.4, 154.4, 199.9, 225.4]],\n"
    "  \"Q8_0\": [[44.03, 104.5, 126.7, 141.4], [87.68, 203.1, 252.5, 282.9]],\n"
    "  \"Q4_K\": [[40.63, 70.56, 94.06, 115], [80.98, 140.5, 187, 229.7]],\n"
    "  \"Q5_K\": [[29.67, 56.54, 80.41, 103.5], [58.85, 112.8, 160.6, 207.1]],\n"
    "  \"Q6_K\": [[30.47, 55.59, 74.91, 89.99], [60.61, 110.6, 149.7, 179.4]]},\n"
    " \"matmul_gmacs_512\": {\n"
    "  \"F32\": [[16.18, 20.08, 23, 24.63], [32.33, 40.13, 45.9, 49.16]],\n"
    "  \"F16\": [[12.17, 16.75, 20.19, 22.45], [24.06, 32.61, 39.34, 44.72]],\n"
    "  \"BF16\": [[11.57, 16.23, 20.14, 22.82], [23.02, 32.16, 40.2, 45.49]],\n"
    "  \"Q4_0\": [[64.17, 80.07, 100.4, 108.8], [128.1, 159.1, 200.5, 215.5]],\n"
    "  \"Q5_0\": [[49.93, 65.97, 89.77, 98.67], [97.54, 129, 179.4, 197.1]],\n"
    "  \"Q8_0\": [[39.15, 93.12, 108.4, 116], [78.4, 185.2, 215.5, 231.6]],\n"
    "  \"Q4_K\": [[34.67, 61.93, 81.27, 96.34], [69.1, 123, 162.2, 192.3]],\n"
    "  \"Q5_K\": [[27.54, 53.04, 71.61, 89.67], [54.79, 104.2, 143, 178.3]],\n"
    "  \"Q6_K\": [[28.54, 49.64, 65.36, 79.54], [55.26, 97.69, 129.5, 158.5]]},\n"
    " \"matmul_gmacs_256\": {\n"
    "  \"F32\": [[15.56, 18.98, 21.51, 22.75], [31.07, 37.9, 43, 45.39]],\n"
    "  \"F16\": [[11.91, 15.89, 19.61, 21.06], [23.78, 31.05, 38.89, 41.76]],\n"
    "  \"BF16\": [[11.57, 15.57, 19.64, 21.1], [22.44, 30.57, 37.35, 41.18]],\n"
    "  \"Q4_0\": [[36.99, 36.24, 44.65, 50.57], [73.65, 72.61, 88.83, 102]],\n"
    "  \"Q5_0\": [[26.16, 20.84, 31.04, 40.11], [53.11, 41.57, 62.04, 80.33]],\n"
    "  \"Q8_0\": [[28.27, 41.08, 46.92, 52.02], [55.06, 80.25, 93.82, 104.5]],\n"
    "  \"Q4_K\": [[18.28, 30.34, 38.03, 45.59], [36.52, 60.36, 75.57, 90.78]],\n"
    "  \"Q5_K\": [[9.636, 18.1, 27.9, 38.59], [19.06, 36.07, 55.37, 78.03]],\n"
    "  \"Q6_K\": [[15.03, 25.69, 33.27, 40.67], [29.81, 51.34, 66.27, 81.22]]},\n"
    " \"matmul_gmacs_288\": {\n"
    "  \"F32\": [[15.66, 19.25, 21.83, 23.12], [31.27, 38.44, 43.76, 46.17]],\n"
    "  \"F16\": [[12.04, 16.08, 19.81, 21.22], [24.02, 31.3, 39.33, 42.21]],\n"
    "  \"BF16\": [[11.27, 15.64, 19.14, 21.44], [22.35, 30.64, 37.67, 42.64]],\n"
    "  \"Q4_0\": [[36.65, 40.26, 49.59, 57.1], [73.13, 80.27, 99.08, 113.9]],\n"
    "  \"Q5_0\": [[18.66, 24.08, 35.57, 45.36], [37.25, 48.03, 71.12, 90.6]],\n"
    "  \"Q8_0\": [[26.26, 41.62, 51.89, 58.95], [51.3, 82.47, 102.9, 117.8]],\n"
    "  \"Q4_K\": [[18.31, 30.22, 37.91, 45.55], [36.49, 60.23, 75.57, 90.93]],\n"
    "  \"Q5_K\": [[9.681, 18.13, 27.77, 38.84], [19.13, 36.42, 55.41, 76.99]],\n"
    "  \"Q6_K\": [[14.73, 25.7, 33.3, 40.68], [29.39, 51.19, 66.29, 83.09]]},\n"
    " \"matmul_gmacs_640\": {\n"
    "  \"F32\": [[16.24, 20.29, 23.31, 25.04], [32.46, 41.19, 46.5, 50.03]],\n"
    "  \"F16\": [[12.42, 16.8, 20.32, 22.85], [24.8, 32.65, 40.19, 45.62]],\n"
    "  \"BF16\": [[11.93, 16.39, 20.38, 23.19], [22.94, 32.66, 40.72, 46.25]],\n"
    "  \"Q4_0\": [[62.22, 72.55, 87.31, 96.07], [121.1, 143.6, 174.2, 189.1]],\n"
    "  \"Q5_0\": [[47.16, 57.81, 78.2, 85.22], [94.22, 115.5, 156, 169.8]],\n"
    "  \"Q8_0\": [[40.64, 81.28, 95.75, 100.1], [79.81, 162.1, 190.8, 199.7]],\n"
    "  \"Q4_K\": [[34.91, 61.57, 81.28, 96.34], [69.02, 122.8, 162.9, 192.5]],\n"
    "  \"Q5_K\": [[27.49, 52.32, 71.58, 89.53], [54.77, 104.2, 143, 178.7]],\n"
    "  \"Q6_K\": [[27.73, 49.18, 65.36, 79.65], [55.3, 98.32, 130.7, 158.6]]},\n"
    " \"rates_g\": {\n"
    "  \"embed\": [1.973, 3.926],\n"
    "  \"rmsnorm\": [6.322, 12.55],\n"
    "  \"quantize\": [2.8, 5.586],\n"
    "  \"add\": [8.137, 16.26],\n"
    "  \"rope\": [8.712, 17.34],\n"
    "  \"kv_store\": [2.153, 4.296],\n"
    "  \"glu_gelu\": [1.38, 2.665],\n"
    "  \"glu_silu\": [1.705, 3.37]},\n"
    " \"attention_gpairs\": [[0.1876, 0.1433, 0.09831, 0.06088], [0.3683, 0.2818, 0.1941, 0.1202]],\n"
    " \"attention_grows\": [[0.07602, 0.05527, 0.04791, 0.0275], [0.1537, 0.1113, 0.1011, 0.05651]],\n"
    " \"matmul_stream_gmacs\": {\n"
    "  \"F32\": [[7.693, 3.345, 3.262], [15.04, 6.828, 6.479]],\n"
    "  \"F16\": [[12.01, 4.897, 4.895], [23.98, 10.2, 9.603]],\n"
    "  \"BF16\": [[11.43, 4.891, 4.884], [22.51, 10.52, 9.657]],\n"
    "  \"Q4_0\": [[48.76, 30.48, 28.58], [96.96, 74.22, 56.41]],\n"
    "  \"Q5_0\": [[40.08, 23.52, 20.93], [83.93, 61.54, 41.36]],\n"
    "  \"Q8_0\": [[26.96, 19.15, 15.59], [53.75, 43.27, 31.2]],\n"
    "  \"Q4_K\": [[40.55, 32.77, 25.4], [80.6, 72.37, 51.07]],\n"
    "  \"Q5_K\": [[29.59, 25.02, 19.72], [60.08, 53.11, 39.87]],\n"
    "  \"Q6_K\": [[30.12, 22.86, 18.13], [59.82, 48.26, 36.56]]}}\n";

void ls_machine_builtin(ls_machine *m) {
    if (ls_machine_parse(m, builtin_machine, strlen(builtin_machine), "built-in", NULL)) {
        /* Cannot happen (a unit of the build); keep the model usable anyway. */
        memset(m, 0, sizeof *m);
        m->n_threads = 1;
        m->n_sizes = 1;
        m->size_bytes[0] = 1;
        m->read_gbs[0][0] = 20;
        m->barrier_us[0] = m->call_us[0] = 0.1;
        m->stream_short_gmacs[0] = 10;
        m->compute_stretch[0] = 1;
        m->workload_ms[0] = 40;
        for (int i = 0; i < LS_MACHINE_STREAMS; i++) m->stream_stretch[0][i] = 1;
        for (int k = 0; k < LS_MACHINE_TYPES; k++)
            for (int g = 0; g < LS_MACHINE_GROUPS; g++) m->matmul_gmacs[k][0][g] = m->matmul_gmacs_512[k][0][g] = m->matmul_gmacs_256[k][0][g] =
                    m->matmul_gmacs_288[k][0][g] = m->matmul_gmacs_640[k][0][g] = 20;
        for (int k = 0; k < LS_MACHINE_TYPES; k++)
            for (int i = 0; i < LS_MACHINE_STREAMS; i++) m->matmul_stream_gmacs[k][0][i] = 10;
        for (int r = 0; r < LS_RATE_COUNT; r++) m->rate_g[r][0] = 1;
        for (int h = 0; h < LS_MACHINE_HEAD_DIMS; h++) m->attention_gpairs[0][h] = m->attention_grows[0][h] = 0.1;
    }
    m->builtin = true;
    snprintf(m->source, sizeof m->source,
             "built-in defaults for an Intel Xeon (Emerald Rapids) with 2 vCPUs (no %s: run lockstep calibrate)",
             ls_machine_path());
}

int ls_machine_load(ls_machine *m, const char *path, bool missing_ok, char *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT && missing_ok) {
            ls_machine_builtin(m);
            return 0;
        }
        return ls_fail(err, "cannot open the machine model %s: %s", path, strerror(errno));
    }
    char *text = malloc(1 << 16);
    size_t size = text ? fread(text, 1, 1 << 16, f) : 0;
    bool too_big = text && size == (1 << 16);
    fclose(f);
    if (!text) return ls_fail(err, "out of memory");
    int rc = too_big ? ls_fail(err, "%s: too big for a machine model", path)
                     : ls_machine_parse(m, text, size, path, err);
    free(text);
    return rc;
}

/* ---- merging calibrations -------------------------------------------------------------- */

/* a[i] = max(a[i], b[i]) for n figures */
static void keep_highest(double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (b[i] > a[i]) a[i] = b[i];
}

/* a[i] = the mean of a[i] (wa calibrations) and b[i] (wb) for n figures */
static void average(double *a, const double *b, size_t n, double wa, double wb) {
    for (size_t i = 0; i < n; i++) a[i] = (a[i] * wa + b[i] * wb) / (wa + wb);
}

#define FIGURES(field) (sizeof(((ls_machine *)0)->field) / sizeof(double))
/* Every figure after size_bytes is merged by one of the two rules below: a field added to
 * ls_machine without a rule here stops the build. */
_Static_assert(offsetof(ls_machine, source) - offsetof(ls_machine, size_bytes) ==
                   sizeof(double) * (FIGURES(size_bytes) + FIGURES(read_gbs) + FIGURES(barrier_us) +
                                     FIGURES(call_us) + FIGURES(matmul_gmacs) + FIGURES(matmul_gmacs_512) +
                                     FIGURES(matmul_gmacs_256) + FIGURES(matmul_gmacs_288) +
                                     FIGURES(matmul_gmacs_640) + FIGURES(rate_g) + FIGURES(attention_gpairs) +
                                     FIGURES(attention_grows) + FIGURES(matmul_stream_gmacs) +
                                     FIGURES(stream_short_gmacs) + FIGURES(cold_us) + FIGURES(cold_line_ns) +
                                     FIGURES(compute_stretch) + FIGURES(workload_ms) +
                                     FIGURES(stream_stretch)),
               "ls_machine_merge does not know every figure");

int ls_machine_merge(ls_machine *into, const ls_machine *add, char *err) {
    if (into->n_threads != add->n_threads || into->n_sizes != add->n_sizes ||
        memcmp(into->size_bytes, add->size_bytes, sizeof into->size_bytes))
        return ls_fail(err, "not calibrations of one kind (%d and %d threads, %d and %d sizes)", into->n_threads,
                       add->n_threads, into->n_sizes, add->n_sizes);
    /* rates: the fastest run any calibration saw, the machine's own speed */
#define HIGHEST(field) keep_highest((double *)into->field, (const double *)add->field, FIGURES(field))
    HIGHEST(read_gbs);
    HIGHEST(matmul_gmacs);
    HIGHEST(matmul_gmacs_512);
    HIGHEST(matmul_gmacs_256);
    HIGHEST(matmul_gmacs_288);
    HIGHEST(matmul_gmacs_640);
    HIGHEST(rate_g);
    HIGHEST(attention_gpairs);
    HIGHEST(attention_grows);
    HIGHEST(matmul_stream_gmacs);
    HIGHEST(stream_short_gmacs);
#undef HIGHEST
    /* latencies and stretches: the mean over the calibrations, each weighing one (the compute
     * stretch was fitted to the workload's time with each calibration's own rates: calibrate
     * fits it again to the merged ones, ls_calibrate_refit) */
    const double wa = into->calibrations, wb = add->calibrations;
#define MEAN(field) average((double *)into->field, (const double *)add->field, FIGURES(field), wa, wb)
    MEAN(barrier_us);
    MEAN(call_us);
    MEAN(cold_us);
    MEAN(cold_line_ns);
    MEAN(compute_stretch);
    MEAN(workload_ms);
    MEAN(stream_stretch);
#undef MEAN
    into->calibrations += add->calibrations;
    return 0;
}
