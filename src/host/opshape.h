/* Per-op shape, type and parameter checks (default-deny).
 *
 * ggml's CPU kernels trust a node's shapes and op params: ggml's constructors derived them in a
 * trusted program. A guest describes nodes itself, so every op gets a rule that re-derives what
 * the constructor would have built (result type and shape from the sources and op params, the
 * constructor's asserts) plus what the CPU kernel additionally assumes (index ranges, divisors,
 * contiguity, supported types). An op without a rule is refused. */
#ifndef APIR_HOST_OPSHAPE_H
#define APIR_HOST_OPSHAPE_H

#include "../proto/wire.h"

#include <stdbool.h>

/* true: t (a node of g, already extent-validated, its required sources present) is something
 * ggml could have built and the CPU kernel can run without leaving its tensors' bytes. */
bool apir_op_shape_ok(const struct apir_wire_graph *g, const struct apir_wire_tensor *t);

#endif
