/* blocks.h — pieces shared by the decoder builders (llama.c, gemma3.c). */
#ifndef LS_BLOCKS_H
#define LS_BLOCKS_H

#include "graph/ir.h"

/* tokens → embedding rows times `scale`: [rows][dim] */
int32_t ls_block_embed(ls_graph *g, const ls_model *m, float scale);

/* Self-attention of layer il on the normed input h [rows][dim]; returns the output
 * projection [rows][dim]. q/k biases and per-head q/k norms are used when the layer has
 * them. rope_table: the table for this layer; window: 0 or the sliding window. */
int32_t ls_block_attention(ls_graph *g, const ls_model *m, int64_t il, int32_t h,
                           int32_t rope_table, int64_t window);

/* Gated feed-forward of layer il on the normed input h: down(act(gate h) * up h). */
int32_t ls_block_ffn(ls_graph *g, const ls_model *m, int64_t il, int32_t h);

/* Final norm and output projection, of every row or of the last only. Marks the output. */
int32_t ls_block_logits(ls_graph *g, const ls_model *m, int32_t x, bool all_logits);

/* The RoPE table for a layer: global base, or the local base on sliding-window layers. */
int32_t ls_block_rope_table(ls_graph *g, const ls_model *m, bool sliding);

#endif
