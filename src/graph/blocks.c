#include "graph/blocks.h"

#include <string.h>

static ls_node blank(ls_op op) {
    ls_node n;
    memset(&n, 0, sizeof n);
    n.op = op;
    n.src[0] = n.src[1] = n.src[2] = -1;
    return n;
}

int32_t ls_block_embed(ls_graph *g, const ls_model *m, float scale) {
    ls_node tokens = blank(LS_OP_TOKENS);
    tokens.width = 1;
    int32_t t = ls_graph_add(g, tokens);
    ls_node e = blank(LS_OP_EMBED);
    e.src[0] = t;
    e.width = m->hp.dim;
    e.weight = &m->token_embd;
    e.p.scale = scale;
    return ls_graph_add(g, e);
}

int32_t ls_block_rope_table(ls_graph *g, const ls_model *m, bool sliding) {
    const ls_hparams *hp = &m->hp;
    ls_rope_table table = {
        .base = sliding ? hp->rope_base_local : hp->rope_base,
        .scale = sliding ? 1.0 : hp->rope_scale,
        .dim = (int32_t)hp->head_dim,
        .freq_divisors = m->rope_freqs.data,
    };
    return ls_graph_rope_table(g, table);
}

static int32_t rope(ls_graph *g, const ls_model *m, int32_t x, int32_t table, int64_t n_heads) {
    ls_node n = blank(LS_OP_ROPE);
    n.src[0] = x;
    n.width = g->nodes[x].width;
    n.p.rope.table = table;
    n.p.rope.n_heads = (int32_t)n_heads;
    n.p.rope.head_dim = (int32_t)m->hp.head_dim;
    n.p.rope.style = m->hp.rope_style;
    return ls_graph_add(g, n);
}

int32_t ls_block_attention(ls_graph *g, const ls_model *m, int64_t il, int32_t h,
                           int32_t rope_table, int64_t window) {
    const ls_hparams *hp = &m->hp;
    const ls_layer_weights *L = &m->layers[il];
    int32_t q = ls_graph_matmul(g, h, &L->q, &L->q_bias);
    int32_t k = ls_graph_matmul(g, h, &L->k, &L->k_bias);
    int32_t v = ls_graph_matmul(g, h, &L->v, &L->v_bias);
    if (L->q_norm.data) q = ls_graph_rmsnorm(g, q, &L->q_norm, hp->norm_eps);
    if (L->k_norm.data) k = ls_graph_rmsnorm(g, k, &L->k_norm, hp->norm_eps);
    q = rope(g, m, q, rope_table, hp->n_head);
    k = rope(g, m, k, rope_table, hp->n_head_kv);

    ls_node a = blank(LS_OP_ATTENTION);
    a.src[0] = q;
    a.src[1] = k;
    a.src[2] = v;
    a.width = hp->n_head * hp->head_dim;
    a.p.attention.layer = (int32_t)il;
    a.p.attention.n_head = (int32_t)hp->n_head;
    a.p.attention.n_head_kv = (int32_t)hp->n_head_kv;
    a.p.attention.head_dim = (int32_t)hp->head_dim;
    a.p.attention.window = window;
    a.p.attention.scale = hp->attention_scale;
    int32_t att = ls_graph_add(g, a);
    if (il + 1 > g->n_layers_kv) g->n_layers_kv = (int32_t)(il + 1);
    g->kv_width = hp->n_head_kv * hp->head_dim;
    return ls_graph_matmul(g, att, &L->o, NULL);
}

int32_t ls_block_ffn(ls_graph *g, const ls_model *m, int64_t il, int32_t h) {
    const ls_layer_weights *L = &m->layers[il];
    int32_t gate = ls_graph_matmul(g, h, &L->gate, NULL);
    int32_t up = ls_graph_matmul(g, h, &L->up, NULL);
    ls_node glu = blank(LS_OP_GLU);
    glu.src[0] = gate;
    glu.src[1] = up;
    glu.width = m->hp.ffn_dim;
    glu.p.activation = m->hp.activation;
    int32_t act = ls_graph_add(g, glu);
    return ls_graph_matmul(g, act, &L->down, NULL);
}

int32_t ls_block_logits(ls_graph *g, const ls_model *m, int32_t x, bool all_logits) {
    if (!all_logits) {
        ls_node last = blank(LS_OP_LAST_ROW);
        last.src[0] = x;
        last.width = g->nodes[x].width;
        last.last_row_only = true;
        x = ls_graph_add(g, last);
    }
    int32_t normed = ls_graph_rmsnorm(g, x, &m->output_norm, m->hp.norm_eps);
    int32_t logits = ls_graph_matmul(g, normed, &m->output, NULL);
    if (logits >= 0) g->nodes[logits].is_output = true;
    g->output = logits;
    return logits;
}
