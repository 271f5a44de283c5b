#include "graph/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

const char *ls_arch_name(ls_arch arch) {
    switch (arch) {
    case LS_ARCH_LLAMA: return "llama";
    case LS_ARCH_QWEN2: return "qwen2";
    case LS_ARCH_QWEN3: return "qwen3";
    case LS_ARCH_GEMMA3: return "gemma3";
    }
    return "?";
}

bool ls_layer_is_sliding(const ls_hparams *hp, int64_t layer) {
    return hp->sliding_window > 0 && hp->sliding_pattern > 0 &&
           (layer + 1) % hp->sliding_pattern != 0;
}

/* "{arch}.{suffix}" as an unsigned integer within [lo, hi]; `fallback` when absent and
 * fallback >= 0, else an error. */
static int read_count(const ls_model *m, const char *arch, const char *suffix, int64_t lo,
                      int64_t hi, int64_t fallback, int64_t *out, char *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const gguf_value *v = gguf_find(&m->file, key);
    if (!v) {
        if (fallback < 0) return ls_fail(err, "model metadata lacks '%s'", key);
        *out = fallback;
        return 0;
    }
    if (v->type == GGUF_ARRAY) return ls_fail(err, "'%s' varies per layer: not supported", key);
    uint64_t u;
    if (!gguf_get_uint(&m->file, key, &u) || u < (uint64_t)lo || u > (uint64_t)hi)
        return ls_fail(err, "'%s' must be an integer in [%lld, %lld]", key, (long long)lo,
                       (long long)hi);
    *out = (int64_t)u;
    return 0;
}

static int read_real(const ls_model *m, const char *arch, const char *suffix, double lo,
                     double hi, double fallback, double *out, char *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double f;
    if (!gguf_find(&m->file, key)) {
        *out = fallback;
        return 0;
    }
    if (!gguf_get_float(&m->file, key, &f) || !(f >= lo && f <= hi))
        return ls_fail(err, "'%s' must be a number in [%g, %g]", key, lo, hi);
    *out = f;
    return 0;
}

/* Binds `w` to tensor `name`, checking it is [n_in] (n_out == 1) or [n_in, n_out]. */
static int bind(const ls_model *m, ls_weight *w, const char *name, int64_t n_in, int64_t n_out,
                bool required, char *err) {
    memset(w, 0, sizeof *w);
    const gguf_tensor *t = gguf_find_tensor(&m->file, name);
    if (!t) return required ? ls_fail(err, "model lacks tensor '%s'", name) : 0;
    uint64_t rows = t->n_dims >= 2 ? t->dims[1] : 1;
    for (uint32_t d = 2; d < t->n_dims; d++) rows *= t->dims[d] == 1 ? 1 : 0;
    if (t->dims[0] != (uint64_t)n_in || rows != (uint64_t)n_out)
        return ls_fail(err, "tensor '%s' has shape [%llu, %llu], expected [%lld, %lld]", name,
                       (unsigned long long)t->dims[0],
                       (unsigned long long)(t->n_dims >= 2 ? t->dims[1] : 1), (long long)n_in,
                       (long long)n_out);
    if (n_out == 1 && t->type != LS_F32)
        return ls_fail(err, "tensor '%s' is a vector and must be F32", name);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->type = (ls_dtype)t->type;
    w->data = t->data;
    w->n_in = n_in;
    w->n_out = n_out;
    return 0;
}

static int bind_layer(const ls_model *m, int64_t il, char *err) {
    const ls_hparams *hp = &m->hp;
    ls_layer_weights *L = &m->layers[il];
    int64_t q_out = hp->n_head * hp->head_dim, kv_out = hp->n_head_kv * hp->head_dim;
    bool qwen2 = hp->arch == LS_ARCH_QWEN2;
    bool qk_norm = hp->arch == LS_ARCH_QWEN3 || hp->arch == LS_ARCH_GEMMA3;
    bool gemma = hp->arch == LS_ARCH_GEMMA3;
    char n[64];
#define BIND(field, suffix, n_in, n_out, required)                          \
    do {                                                                    \
        snprintf(n, sizeof n, "blk.%lld.%s", (long long)il, suffix);        \
        if (bind(m, &L->field, n, n_in, n_out, required, err)) return -1;   \
    } while (0)
    BIND(attn_norm, "attn_norm.weight", hp->dim, 1, true);
    BIND(q, "attn_q.weight", hp->dim, q_out, true);
    BIND(k, "attn_k.weight", hp->dim, kv_out, true);
    BIND(v, "attn_v.weight", hp->dim, kv_out, true);
    BIND(q_bias, "attn_q.bias", q_out, 1, qwen2);
    BIND(k_bias, "attn_k.bias", kv_out, 1, qwen2);
    BIND(v_bias, "attn_v.bias", kv_out, 1, qwen2);
    BIND(q_norm, "attn_q_norm.weight", hp->head_dim, 1, qk_norm);
    BIND(k_norm, "attn_k_norm.weight", hp->head_dim, 1, qk_norm);
    BIND(o, "attn_output.weight", q_out, hp->dim, true);
    BIND(post_attn_norm, "post_attention_norm.weight", hp->dim, 1, gemma);
    BIND(ffn_norm, "ffn_norm.weight", hp->dim, 1, true);
    BIND(gate, "ffn_gate.weight", hp->dim, hp->ffn_dim, true);
    BIND(up, "ffn_up.weight", hp->dim, hp->ffn_dim, true);
    BIND(down, "ffn_down.weight", hp->ffn_dim, hp->dim, true);
    BIND(post_ffn_norm, "post_ffw_norm.weight", hp->dim, 1, gemma);
#undef BIND
    return 0;
}

static int read_hparams(ls_model *m, char *err) {
    ls_hparams *hp = &m->hp;
    gguf_string arch_s;
    if (!gguf_get_string(&m->file, "general.architecture", &arch_s))
        return ls_fail(err, "model metadata lacks 'general.architecture'");
    static const struct { const char *name; ls_arch arch; } known[] = {
        {"llama", LS_ARCH_LLAMA}, {"qwen2", LS_ARCH_QWEN2},
        {"qwen3", LS_ARCH_QWEN3}, {"gemma3", LS_ARCH_GEMMA3},
    };
    const char *arch = NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (gguf_string_equals(arch_s, known[i].name)) {
            arch = known[i].name;
            hp->arch = known[i].arch;
        }
    if (!arch)
        return ls_fail(err, "unsupported architecture '%.*s' (supported: llama, qwen2, qwen3, gemma3)",
                       (int)(arch_s.length > 64 ? 64 : arch_s.length), arch_s.bytes);

    const int64_t big = (int64_t)1 << 20;
    if (read_count(m, arch, "block_count", 1, 4096, -1, &hp->n_layer, err) ||
        read_count(m, arch, "embedding_length", 1, big, -1, &hp->dim, err) ||
        read_count(m, arch, "attention.head_count", 1, 4096, -1, &hp->n_head, err) ||
        read_count(m, arch, "attention.head_count_kv", 1, hp->n_head, hp->n_head, &hp->n_head_kv, err) ||
        read_count(m, arch, "feed_forward_length", 1, big, -1, &hp->ffn_dim, err) ||
        read_count(m, arch, "context_length", 1, (int64_t)1 << 24, 4096, &hp->context_train, err))
        return -1;
    if (hp->n_head % hp->n_head_kv)
        return ls_fail(err, "head_count %lld is not a multiple of head_count_kv %lld",
                       (long long)hp->n_head, (long long)hp->n_head_kv);
    int64_t default_head = hp->dim % hp->n_head ? 0 : hp->dim / hp->n_head;
    int64_t value_length;
    if (read_count(m, arch, "attention.key_length", 2, 4096, default_head ? default_head : -1, &hp->head_dim, err) ||
        read_count(m, arch, "attention.value_length", 2, 4096, hp->head_dim, &value_length, err))
        return -1;
    if (value_length != hp->head_dim || hp->head_dim % 2)
        return ls_fail(err, "key_length %lld and value_length %lld must be equal and even",
                       (long long)hp->head_dim, (long long)value_length);

    double eps, base, base_local, scale = 1;
    if (read_real(m, arch, "attention.layer_norm_rms_epsilon", 0, 1, 1e-5, &eps, err) ||
        read_real(m, arch, "rope.freq_base", 1, 1e12, 10000.0, &base, err) ||
        read_real(m, arch, "rope.freq_base_swa", 1, 1e12, 10000.0, &base_local, err))
        return -1;
    {
        gguf_string scaling;
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        if (gguf_get_string(&m->file, key, &scaling) && !gguf_string_equals(scaling, "none")) {
            if (!gguf_string_equals(scaling, "linear"))
                return ls_fail(err, "RoPE scaling '%.*s' is not supported (only linear)",
                               (int)(scaling.length > 32 ? 32 : scaling.length), scaling.bytes);
            double factor;
            if (read_real(m, arch, "rope.scaling.factor", 1e-6, 1e6, 1.0, &factor, err)) return -1;
            scale = 1.0 / factor;
        }
    }
    hp->norm_eps = (float)eps;
    hp->rope_base = base;
    hp->rope_base_local = base_local;
    hp->rope_scale = scale;
    hp->rope_style = hp->arch == LS_ARCH_LLAMA ? LS_ROPE_INTERLEAVED : LS_ROPE_HALVES;
    hp->activation = hp->arch == LS_ARCH_GEMMA3 ? LS_ACT_GELU_TANH : LS_ACT_SILU;
    hp->embed_scale = 1.0f;
    hp->sliding_window = 0;
    hp->sliding_pattern = 0;
    if (hp->arch == LS_ARCH_GEMMA3) {
        /* Gemma 3: five sliding-window layers then one global, as llama.cpp fixes it. */
        if (read_count(m, arch, "attention.sliding_window", 1, (int64_t)1 << 24, -1, &hp->sliding_window, err))
            return -1;
        hp->sliding_pattern = 6;
        hp->embed_scale = sqrtf((float)hp->dim);
    }
    hp->attention_scale = 1.0f / sqrtf((float)hp->head_dim);
    return 0;
}

int ls_model_open(ls_model *m, const char *path, char *err) {
    memset(m, 0, sizeof *m);
    if (gguf_open(&m->file, path, err)) return -1;
    if (read_hparams(m, err)) goto fail;
    ls_hparams *hp = &m->hp;

    const gguf_tensor *embd = gguf_find_tensor(&m->file, "token_embd.weight");
    if (!embd || embd->n_dims != 2) {
        ls_fail(err, "model lacks a 2-D tensor 'token_embd.weight'");
        goto fail;
    }
    hp->n_vocab = (int64_t)embd->dims[1];
    if (bind(m, &m->token_embd, "token_embd.weight", hp->dim, hp->n_vocab, true, err) ||
        bind(m, &m->output_norm, "output_norm.weight", hp->dim, 1, true, err) ||
        bind(m, &m->output, "output.weight", hp->dim, hp->n_vocab, false, err) ||
        bind(m, &m->rope_freqs, "rope_freqs.weight", hp->head_dim / 2, 1, false, err))
        goto fail;
    if (!m->output.data) m->output = m->token_embd; /* tied embeddings */

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) {
        ls_fail(err, "out of memory");
        goto fail;
    }
    for (int64_t il = 0; il < hp->n_layer; il++)
        if (bind_layer(m, il, err)) goto fail;
    return 0;
fail:
    ls_model_close(m);
    return -1;
}

void ls_model_close(ls_model *m) {
    free(m->layers);
    gguf_close(&m->file);
    memset(m, 0, sizeof *m);
}
