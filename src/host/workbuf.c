/* The CPU backend's work buffer, counted against the session's byte quota.
 *
 * ggml-cpu plans every graph it computes (ggml_graph_plan) and grows one work buffer per
 * backend to the largest plan so far, never shrinking it. The size follows element counts, not
 * bytes: a MUL_MAT whose src1 is a zero-stride view of one row asks for a converted copy of
 * every row it describes, so a 4 KiB buffer can ask for gigabytes — memory the session holds
 * outside any counted buffer, and an allocation failure the backend answers by aborting
 * (`new` throws). So for CPU devices the host plans each graph itself before it runs and
 * charges the growth to the session like a buffer.
 *
 * ggml_graph_plan lives in the CPU backend's own library, which ggml's loader opens with
 * RTLD_LOCAL: it is found through that library (dladdr of a function the backend hands out,
 * then the already loaded library by name). A CPU backend whose planner cannot be found is
 * served uncounted (apir-hostd's address-space limit still bounds it); see docs/security.md. */
#include "internal.h"

#include <dlfcn.h>

apir_graph_plan_fn apir_workbuf_planner(ggml_backend_dev_t dev)
{
    if (ggml_backend_dev_type(dev) != GGML_BACKEND_DEVICE_TYPE_CPU)
        return NULL;
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
    void *fn = reg ? ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads") : NULL;
    Dl_info info;
    if (!fn || !dladdr(fn, &info) || !info.dli_fname)
        return NULL;
    /* RTLD_NOLOAD: only a library that is loaded already; the handle's reference is dropped
     * at once, ggml's loader keeps its own for the life of the process. */
    void *lib = dlopen(info.dli_fname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    apir_graph_plan_fn plan = NULL;
    if (lib) {
        *(void **)&plan = dlsym(lib, "ggml_graph_plan");
        dlclose(lib);
    }
    return plan;
}

/* Before a stream computes its graph (new, or rerun with another thread count): the work
 * buffer that graph needs beyond what the stream's backend already holds is charged, or the
 * graph is refused when it would pass the quota. The backend then never allocates past what
 * was charged (an index plan's segments need no more than the whole graph). */
enum apir_status apir_workbuf_charge(struct apir_session *s, struct apir_host_stream *hs)
{
    if (!hs->planner || hs->work_threads == hs->n_threads)
        return APIR_OK;
    struct ggml_cplan cp = hs->planner(hs->built.graph, hs->n_threads, NULL);
    if (cp.work_size > hs->work_bytes) {
        uint64_t more = cp.work_size - hs->work_bytes;
        uint64_t quota = s->host->max_session_bytes;
        if (quota && (more > quota || s->bytes_used > quota - more))
            return APIR_E_QUOTA;
        s->bytes_used += more;
        hs->work_bytes = cp.work_size;
    }
    hs->work_threads = hs->n_threads;
    return APIR_OK;
}
