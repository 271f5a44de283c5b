/* gemma3.c — the graph of Gemma 3 decoders.
 *
 *   x = embed(tokens) * sqrt(dim)                        [rows][dim]
 *   per layer: q,k,v = W{q,k,v} · norm(x); q,k normed per head (RMSNorm over head_dim)
 *              a = Wo · attention(rope(q), rope(k), v)  sliding window on 5 of every 6
 *              layers (local RoPE base there), global attention on layers 6, 12, ...
 *              x += post_attention_norm(a)
 *              f = Wdown · (gelu_tanh(Wgate · norm(x)) * (Wup · norm(x)))
 *              x += post_ffw_norm(f)
 *   logits = token_embd · norm(x)   (tied)              [rows or 1][n_vocab]
 * The norm weights in GGUF already include Gemma's "1 +": they are used as they are. */
#include "base/error.h"
#include "graph/blocks.h"

int ls_build_gemma3(ls_graph *g, const ls_model *m, bool all_logits, char *err) {
    const ls_hparams *hp = &m->hp;
    int32_t x = ls_block_embed(g, m, hp->embed_scale);
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const ls_layer_weights *L = &m->layers[il];
        bool sliding = ls_layer_is_sliding(hp, il);
        int32_t table = ls_block_rope_table(g, m, sliding);
        if (table < 0) return ls_fail(err, "too many RoPE tables");
        int32_t h = ls_graph_rmsnorm(g, x, &L->attn_norm, hp->norm_eps);
        int32_t a = ls_block_attention(g, m, il, h, table, sliding ? hp->sliding_window : 0);
        x = ls_graph_add2(g, x, ls_graph_rmsnorm(g, a, &L->post_attn_norm, hp->norm_eps));
        h = ls_graph_rmsnorm(g, x, &L->ffn_norm, hp->norm_eps);
        int32_t f = ls_block_ffn(g, m, il, h);
        x = ls_graph_add2(g, x, ls_graph_rmsnorm(g, f, &L->post_ffn_norm, hp->norm_eps));
    }
    ls_block_logits(g, m, x, all_logits);
    return 0;
}
