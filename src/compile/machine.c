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
    fprintf(f, "{\n  \"format\": \"lockstep-machine-12\",\n  \"threads\": %d,\n  \"calibrations\": %d,\n  \"sizes\": [",
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
        if (!strcmp(p->path, ".format") && !strcmp(text, "lockstep-machine-12")) p->format_ok = true;
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
                  m->compute_stretch[t] >= 1;
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
 * registers, the Q4_0 one-token kernel of 0303b65, the 16-row lane fold); fourteen
 * calibrations merged, before calibrate merged its runs itself, by the highest of each rate
 * and the median of each latency and stretch (the barrier reads 0.05 us or 0.5 as the host
 * places the vCPUs; the stream stretch 1.08-1.41 over 16 MiB and 1.05-1.29 over 256 MiB with
 * two threads); the figures over 1 GiB come from the last five only.
 * DRAM, in 2 MiB pages: 16 GB/s with 1 thread, 29 with 2. The figures before them came from
 * an AMD EPYC (Zen 4). Kernels change: recalibrate after they do (a few runs merged into one
 * file, tools/machine_builtin.py) and paste its output here. */
static const char builtin_machine[] =
    "{\"format\": \"lockstep-machine-12\", \"threads\": 2, \"calibrations\": 14,\n"
    " \"sizes\": [262144, 524288, 1048576, 2097152, 4194304, 8388608, 16777216, 25165824, 33554432, 50331648, 67108864, 268435456],\n"
    " \"read_gbs\": [[108.2, 107, 106, 70.19, 30.58, 30.03, 30.11, 30.08, 29.93, 29.91, 29.34, 16.34], [216.1, 215.7, 212.2, 208.4, 144.5, 67.77, 59.53, 59.49, 59.54, 59.45, 58.47, 29.11]],\n"
    " \"barrier_us\": [0.001, 0.4971], \"call_us\": [0.001, 0.4971],\n"
    " \"stream_short_gmacs\": [25.56, 50.93],\n"
    " \"compute_stretch\": [1.204, 1.305],\n"
    " \"stream_stretch\": [[1.25, 1.127, 1.037], [1.157, 1.125, 1.099]],\n"
    " \"cold_us\": [[0.1837, 0.7279, 0.9793], [0.1522, 0.4307, 0.8795]], \"cold_line_ns\": [[2.325, 5.035, 5.442], [2.369, 4.04, 5.452]],\n"
    " \"matmul_gmacs\": {\n"
    "  \"F32\": [[15.65, 20.74, 23.87, 25.78], [31.15, 41.43, 47.66, 52.22]],\n"
    "  \"F16\": [[12.29, 16.98, 20.84, 23.85], [24.64, 33.55, 40.8, 46.7]],\n"
    "  \"BF16\": [[11.75, 16.71, 21.26, 24.39], [23.17, 33.36, 42.42, 47.51]],\n"
    "  \"Q4_0\": [[72.31, 95.31, 115.7, 133.5], [144.1, 189.8, 230.4, 266.7]],\n"
    "  \"Q5_0\": [[54.1, 77.65, 99.12, 113.2], [108.1, 155, 197.8, 223.2]],\n"
    "  \"Q8_0\": [[55.4, 103.8, 126.4, 143.5], [110.6, 206.6, 251.2, 283.1]],\n"
    "  \"Q4_K\": [[41.13, 70.49, 93.45, 117.2], [81.95, 138.5, 186.2, 229.1]],\n"
    "  \"Q5_K\": [[30.1, 57.27, 80.13, 104.5], [59.74, 114.1, 160, 206.9]],\n"
    "  \"Q6_K\": [[30.81, 56.09, 73.48, 89.82], [61.26, 111.6, 146.3, 179.6]]},\n"
    " \"matmul_gmacs_512\": {\n"
    "  \"F32\": [[16.17, 20.15, 23.08, 24.75], [32.24, 40.24, 46.07, 49.47]],\n"
    "  \"F16\": [[12.24, 16.56, 20.13, 22.43], [24.23, 32.96, 39.82, 44.54]],\n"
    "  \"BF16\": [[11.56, 16.31, 20.52, 22.84], [22.93, 32.25, 40.99, 45.63]],\n"
    "  \"Q4_0\": [[65.01, 81.35, 99.8, 109.1], [128.9, 161.4, 199.2, 217.6]],\n"
    "  \"Q5_0\": [[48.99, 65.36, 89.04, 98.98], [96.34, 129.5, 177.4, 197.7]],\n"
    "  \"Q8_0\": [[48.4, 93.1, 106.1, 116.3], [96.41, 183.2, 212.5, 231.9]],\n"
    "  \"Q4_K\": [[35.24, 61.73, 81.33, 96.73], [70.2, 122, 161.6, 192.9]],\n"
    "  \"Q5_K\": [[27.1, 52.67, 70.54, 90.14], [53.95, 104.4, 140.8, 179.6]],\n"
    "  \"Q6_K\": [[27.77, 49.76, 66.16, 79.5], [55.03, 99, 131.4, 156.9]]},\n"
    " \"matmul_gmacs_256\": {\n"
    "  \"F32\": [[15.55, 19.08, 21.64, 22.92], [30.99, 38.04, 43.2, 45.77]],\n"
    "  \"F16\": [[11.91, 16.24, 19.66, 20.86], [23.7, 31.63, 39.1, 41.48]],\n"
    "  \"BF16\": [[11.5, 16.11, 19.29, 21.16], [22.91, 31.54, 37.85, 41.77]],\n"
    "  \"Q4_0\": [[36.87, 36.6, 45.63, 50.54], [73.62, 72.58, 89.42, 100.9]],\n"
    "  \"Q5_0\": [[26.12, 20.81, 31.13, 40.74], [52.07, 41.44, 62.27, 81.63]],\n"
    "  \"Q8_0\": [[34.8, 40.32, 46.13, 52.1], [67.96, 80.16, 91.78, 104]],\n"
    "  \"Q4_K\": [[18.43, 30.19, 38.29, 45.78], [36.8, 60.25, 76.15, 91.19]],\n"
    "  \"Q5_K\": [[9.574, 18.36, 28.36, 38.94], [19.05, 36.55, 56.58, 77.66]],\n"
    "  \"Q6_K\": [[15.07, 26.13, 33.16, 41.02], [29.78, 52.11, 66.02, 81.84]]},\n"
    " \"matmul_gmacs_288\": {\n"
    "  \"F32\": [[15.66, 19.3, 21.95, 23.3], [31.2, 38.51, 43.86, 46.54]],\n"
    "  \"F16\": [[12, 16.01, 19.79, 21.12], [23.99, 31.4, 39.36, 42.11]],\n"
    "  \"BF16\": [[11.34, 15.97, 19.55, 21.51], [22.66, 31.3, 38.88, 42.81]],\n"
    "  \"Q4_0\": [[36.69, 40.33, 49.42, 57.13], [73.33, 80.14, 98.6, 114.1]],\n"
    "  \"Q5_0\": [[18.79, 23.98, 35.79, 46.58], [37.15, 47.93, 71.36, 92.59]],\n"
    "  \"Q8_0\": [[30.3, 41.85, 51.34, 59.11], [59.91, 82.9, 102.5, 117.9]],\n"
    "  \"Q4_K\": [[18.53, 30.29, 38.32, 45.78], [36.8, 60.13, 76.4, 91.25]],\n"
    "  \"Q5_K\": [[9.543, 18.36, 28.36, 38.93], [18.97, 36.91, 56.48, 77.6]],\n"
    "  \"Q6_K\": [[14.94, 26.11, 33.1, 41.09], [29.4, 52.12, 66.21, 81.96]]},\n"
    " \"matmul_gmacs_640\": {\n"
    "  \"F32\": [[16.26, 20.36, 23.38, 25.15], [32.42, 40.64, 46.71, 50.23]],\n"
    "  \"F16\": [[12.39, 16.7, 20.38, 22.8], [24.75, 33.36, 40.19, 45.55]],\n"
    "  \"BF16\": [[11.65, 16.46, 20.78, 23.21], [22.89, 32.17, 41.52, 46.39]],\n"
    "  \"Q4_0\": [[62.63, 73, 87.39, 94.65], [125, 145.5, 174.4, 189.1]],\n"
    "  \"Q5_0\": [[47.14, 58.26, 77.91, 87.59], [94.16, 116.2, 155.7, 170.1]],\n"
    "  \"Q8_0\": [[50.41, 83.19, 93.75, 100.3], [96.93, 161.4, 187.1, 199.9]],\n"
    "  \"Q4_K\": [[35.2, 61.49, 81.36, 96.63], [70.35, 122.3, 162.1, 192.8]],\n"
    "  \"Q5_K\": [[27.06, 52.59, 71.09, 90.19], [53.99, 104.9, 141, 179.8]],\n"
    "  \"Q6_K\": [[27.68, 49.08, 66.52, 79.63], [55.29, 97.52, 131.5, 157.7]]},\n"
    " \"rates_g\": {\n"
    "  \"embed\": [1.983, 3.951],\n"
    "  \"rmsnorm\": [6.384, 12.63],\n"
    "  \"quantize\": [2.798, 5.589],\n"
    "  \"add\": [8.13, 16.18],\n"
    "  \"rope\": [8.711, 17.33],\n"
    "  \"kv_store\": [2.153, 4.293],\n"
    "  \"glu_gelu\": [1.391, 2.666],\n"
    "  \"glu_silu\": [1.711, 3.374]},\n"
    " \"attention_gpairs\": [[0.1935, 0.1448, 0.1011, 0.06131], [0.3768, 0.2886, 0.1996, 0.1226]],\n"
    " \"attention_grows\": [[0.07935, 0.06066, 0.06864, 0.02908], [0.1596, 0.1149, 0.1006, 0.05862]],\n"
    " \"matmul_stream_gmacs\": {\n"
    "  \"F32\": [[7.69, 3.749, 3.21], [14.95, 7.197, 6.47]],\n"
    "  \"F16\": [[12.11, 5.132, 4.829], [23.95, 10.04, 9.535]],\n"
    "  \"BF16\": [[11.4, 5.115, 4.856], [22.64, 10, 9.702]],\n"
    "  \"Q4_0\": [[48.6, 30.44, 27.81], [96.31, 64.52, 56.22]],\n"
    "  \"Q5_0\": [[39.85, 22.95, 20.46], [79.76, 51.49, 40.63]],\n"
    "  \"Q8_0\": [[27.34, 16.79, 15.04], [54.18, 37.77, 30.09]],\n"
    "  \"Q4_K\": [[40.87, 28.4, 24.83], [81.66, 62.67, 49.59]],\n"
    "  \"Q5_K\": [[30.27, 23.06, 19.5], [60.2, 48.83, 39.31]],\n"
    "  \"Q6_K\": [[30.26, 20.9, 17.55], [60.58, 43.94, 35.3]]}}\n";

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
                                     FIGURES(compute_stretch) + FIGURES(stream_stretch)),
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
    /* latencies and stretches: the mean over the calibrations, each weighing one */
    const double wa = into->calibrations, wb = add->calibrations;
#define MEAN(field) average((double *)into->field, (const double *)add->field, FIGURES(field), wa, wb)
    MEAN(barrier_us);
    MEAN(call_us);
    MEAN(cold_us);
    MEAN(cold_line_ns);
    MEAN(compute_stretch);
    MEAN(stream_stretch);
#undef MEAN
    into->calibrations += add->calibrations;
    return 0;
}
