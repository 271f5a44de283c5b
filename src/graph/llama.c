/* llama.c — the graph of Llama-family decoders: llama (Llama 2/3, TinyLlama, SmolLM),
 * qwen2 (q/k/v biases), qwen3 (per-head q/k RMSNorm).
 *
 *   x = embed(tokens)                                   [rows][dim]
 *   per layer: x += Wo · attention(rope(q), rope(k), v) with q,k,v = W{q,k,v} · norm(x)
 *              x += Wdown · (silu(Wgate · norm(x)) * (Wup · norm(x)))
 *   logits = Wout · norm(x)                             [rows or 1][n_vocab] */
#include "base/error.h"
#include "graph/blocks.h"

int ls_build_llama(ls_graph *g, const ls_model *m, bool all_logits, char *err) {
    const ls_hparams *hp = &m->hp;
    int32_t table = ls_block_rope_table(g, m, false);
    if (table < 0) return ls_fail(err, "too many RoPE tables");
    int32_t x = ls_block_embed(g, m, 1.0f);
    for (int64_t il = 0; il < hp->n_layer; il++) {
        const ls_layer_weights *L = &m->layers[il];
        int32_t h = ls_graph_rmsnorm(g, x, &L->attn_norm, hp->norm_eps);
        x = ls_graph_add2(g, x, ls_block_attention(g, m, il, h, table, 0));
        h = ls_graph_rmsnorm(g, x, &L->ffn_norm, hp->norm_eps);
        x = ls_graph_add2(g, x, ls_block_ffn(g, m, il, h));
    }
    ls_block_logits(g, m, x, all_logits);
    return 0;
}
