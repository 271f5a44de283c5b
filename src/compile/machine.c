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
 * in six minutes (17:38-17:44) merged by calibrate (the compute stretch fitted to the
 * workload in place read 1.17-1.22 in each with two threads, 1.13-1.16 with one; the
 * barrier reads 0.05 us or 0.5 as the host places the vCPUs).
 * DRAM, in 2 MiB pages: 17 GB/s with 1 thread, 29 with 2. The figures before them came from
 * an AMD EPYC (Zen 4). Kernels change: recalibrate after they do (a few runs merged into one
 * file, tools/machine_builtin.py) and paste its output here. */
static const char builtin_machine[] =
    "{\"format\": \"lockstep-machine-13\", \"threads\": 2, \"calibrations\": 6,\n"
    " \"sizes\": [262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, 25165824, 33554432, 50331648, 67108864, 268435456],\n"
    " \"read_gbs\": [[108.1, 106.8, 106.1, 68.92, 30.22, 29.89, 29.93, 30.19, 30.26, 29.44, 29.4, 16.26], [215.8, 215.9, 212.1, 207.7, 120.9, 60.9, 60.49, 60.39, 60.48, 60.34, 60.02, 29.41]],\n"
    " \"barrier_us\": [0.001, 0.5227], \"call_us\": [0.001, 0.5227],\n"
    " \"stream_short_gmacs\": [25.69, 50.91],\n"
    " \"compute_stretch\": [1.146, 1.202], \"workload_ms\": [40.16, 21.18],\n"
    " \"stream_stretch\": [[1.067, 1.08, 1.037], [1.184, 1.156, 1.076]],\n"
    " \"cold_us\": [[0.1714, 0.5304, 0.8085], [0.1548, 0.3405, 0.7206]], \"cold_line_ns\": [[2.314, 4.666, 5.135], [2.704, 4.588, 4.751]],\n"
    " \"matmul_gmacs\": {\n"
    "  \"F32\": [[15.66, 21, 23.8, 25.68], [31.51, 41.28, 47.49, 51.36]],\n"
    "  \"F16\": [[12.52, 17.12, 20.61, 23.46], [24.31, 33.18, 40.96, 46.89]],\n"
    "  \"BF16\": [[11.76, 16.75, 20.78, 23.77], [23.18, 33.34, 41.55, 47.49]],\n"
    "  \"Q4_0\": [[69.27, 95.05, 116.2, 133.7], [138.2, 184.8, 230.9, 266.7]],\n"
    "  \"Q5_0\": [[52.83, 77.58, 99.98, 113.5], [103.7, 154.6, 199.9, 222.4]],\n"
    "  \"Q8_0\": [[44.01, 104.6, 126.7, 141.4], [87.83, 203.5, 250.3, 281]],\n"
    "  \"Q4_K\": [[40.62, 70.58, 94.08, 115], [80.85, 141.1, 187, 229.7]],\n"
    "  \"Q5_K\": [[29.67, 56.56, 80.36, 103.3], [61.11, 112.8, 159.9, 207.1]],\n"
    "  \"Q6_K\": [[30.49, 55.51, 74.83, 90.43], [60.59, 110.5, 149.5, 179.3]]},\n"
    " \"matmul_gmacs_512\": {\n"
    "  \"F32\": [[16.22, 20.08, 23.02, 24.6], [32.3, 40.66, 45.88, 49.05]],\n"
    "  \"F16\": [[12.17, 16.71, 19.92, 22.38], [23.96, 33.4, 39.42, 44.77]],\n"
    "  \"BF16\": [[11.58, 16.17, 20.19, 22.81], [23.09, 32.27, 40.22, 45.49]],\n"
    "  \"Q4_0\": [[64.08, 80.42, 100.6, 109], [128, 160.2, 202.1, 215.6]],\n"
    "  \"Q5_0\": [[49.37, 65.92, 90.11, 98.69], [97.75, 129.4, 179, 197.1]],\n"
    "  \"Q8_0\": [[38.89, 93.34, 108.3, 116], [76.74, 185.4, 214.9, 231.2]],\n"
    "  \"Q4_K\": [[34.71, 61.2, 82.25, 96.37], [69.29, 122, 167.4, 192.2]],\n"
    "  \"Q5_K\": [[27.53, 52.43, 71.56, 89.32], [54.88, 104.4, 143, 178.4]],\n"
    "  \"Q6_K\": [[27.68, 49.55, 64.86, 79.91], [55.04, 97.9, 129.6, 159.3]]},\n"
    " \"matmul_gmacs_256\": {\n"
    "  \"F32\": [[15.56, 18.98, 21.53, 22.71], [30.95, 37.9, 42.97, 45.36]],\n"
    "  \"F16\": [[11.92, 15.9, 19.57, 21.05], [23.42, 31.71, 38.93, 41.81]],\n"
    "  \"BF16\": [[11.54, 15.55, 18.92, 21.04], [23.05, 30.64, 37.06, 41.17]],\n"
    "  \"Q4_0\": [[36.99, 36.26, 46.55, 50.6], [73.58, 72.43, 88.98, 102.6]],\n"
    "  \"Q5_0\": [[26.11, 20.88, 31.07, 40.16], [52.11, 41.58, 62.41, 80.14]],\n"
    "  \"Q8_0\": [[28.74, 40.3, 46.87, 52.04], [55.11, 79.97, 93.75, 104.2]],\n"
    "  \"Q4_K\": [[18.58, 30.32, 38.17, 45.55], [36.47, 60.07, 75.8, 90.63]],\n"
    "  \"Q5_K\": [[9.673, 18.14, 27.71, 38.79], [19.14, 36.09, 55.3, 76.87]],\n"
    "  \"Q6_K\": [[15, 25.7, 33.23, 40.65], [29.4, 51.28, 66.95, 81.17]]},\n"
    " \"matmul_gmacs_288\": {\n"
    "  \"F32\": [[15.66, 19.24, 21.83, 23.11], [31.26, 38.43, 44.31, 46.15]],\n"
    "  \"F16\": [[12.04, 15.99, 19.8, 21.13], [24.03, 31.37, 39.51, 42.17]],\n"
    "  \"BF16\": [[11.26, 15.66, 19.16, 21.36], [22.42, 30.67, 37.28, 41.92]],\n"
    "  \"Q4_0\": [[36.75, 40.31, 49.58, 57.17], [73.22, 80.24, 99.02, 113.5]],\n"
    "  \"Q5_0\": [[18.64, 24.08, 35.49, 45.55], [38.03, 47.95, 70.87, 90.61]],\n"
    "  \"Q8_0\": [[25.91, 41.48, 52.02, 60.98], [51.46, 81.98, 104.3, 117.5]],\n"
    "  \"Q4_K\": [[18.27, 30.19, 38.03, 45.47], [36.52, 60.18, 75.93, 90.86]],\n"
    "  \"Q5_K\": [[9.659, 18.49, 27.71, 38.56], [19.15, 36.44, 55.44, 76.96]],\n"
    "  \"Q6_K\": [[14.72, 25.66, 33.24, 40.65], [29.39, 51.22, 66.42, 81.26]]},\n"
    " \"matmul_gmacs_640\": {\n"
    "  \"F32\": [[16.23, 20.3, 23.72, 25.02], [32.56, 40.5, 46.52, 49.95]],\n"
    "  \"F16\": [[12.42, 16.8, 20.22, 23.21], [24.79, 32.98, 40.18, 46.84]],\n"
    "  \"BF16\": [[11.63, 16.66, 20.38, 23.18], [22.74, 32.04, 41.05, 46.46]],\n"
    "  \"Q4_0\": [[62.59, 72.75, 87.29, 95.72], [117, 143.4, 174.3, 191.8]],\n"
    "  \"Q5_0\": [[47.19, 58.1, 78.23, 85.09], [94.02, 115, 156.9, 170.2]],\n"
    "  \"Q8_0\": [[40.6, 81.38, 95.68, 100], [80.05, 161.7, 190.9, 199.8]],\n"
    "  \"Q4_K\": [[35.04, 61.26, 81.65, 96.4], [69.29, 123.6, 162.1, 194.7]],\n"
    "  \"Q5_K\": [[27.53, 52.32, 71.62, 89.58], [54.65, 103.5, 142.9, 178.3]],\n"
    "  \"Q6_K\": [[27.99, 49.33, 65.38, 79.49], [55.33, 98.51, 129.7, 157.7]]},\n"
    " \"rates_g\": {\n"
    "  \"embed\": [1.97, 3.924],\n"
    "  \"rmsnorm\": [6.349, 12.62],\n"
    "  \"quantize\": [2.799, 5.594],\n"
    "  \"add\": [8.125, 16.22],\n"
    "  \"rope\": [8.701, 17.34],\n"
    "  \"kv_store\": [2.164, 4.291],\n"
    "  \"glu_gelu\": [1.38, 2.663],\n"
    "  \"glu_silu\": [1.707, 3.371]},\n"
    " \"attention_gpairs\": [[0.1927, 0.147, 0.1, 0.06114], [0.375, 0.2891, 0.2016, 0.1218]],\n"
    " \"attention_grows\": [[0.1019, 0.05819, 0.04002, 0.0255], [0.1504, 0.1323, 0.09619, 0.06597]],\n"
    " \"matmul_stream_gmacs\": {\n"
    "  \"F32\": [[7.725, 3.303, 3.275], [15.09, 6.635, 6.449]],\n"
    "  \"F16\": [[12.09, 4.896, 4.874], [23.4, 9.854, 9.54]],\n"
    "  \"BF16\": [[11.27, 4.931, 4.887], [22.6, 10.06, 9.61]],\n"
    "  \"Q4_0\": [[48.84, 30.27, 28.04], [96.92, 68.71, 55.37]],\n"
    "  \"Q5_0\": [[40.1, 23.24, 20.77], [79.26, 56.03, 41.16]],\n"
    "  \"Q8_0\": [[26.93, 17.85, 15.5], [54.33, 41.05, 30.4]],\n"
    "  \"Q4_K\": [[40.45, 30.15, 25.35], [80.26, 67.98, 49.67]],\n"
    "  \"Q5_K\": [[29.59, 23.05, 19.81], [59.69, 52.22, 39.62]],\n"
    "  \"Q6_K\": [[30.01, 21.22, 17.74], [59.99, 47.5, 35.87]]}}\n";

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
