/* Unit tests of Vulkan kernel selection (core/vk_plan.h) against made-up device limits, so that
 * they need no device: the workgroup width each kind of device gets, the split of many
 * workgroups over x, y and z, and the errors a small device gets instead of a dispatch that
 * would run out of its limits or wrap the shaders' 32-bit indices. The dispatches' results are
 * the op tests' job (test_ops: Vulkan against the CPU backend).
 *
 * Usage: test_vk_plan [NAME-SUBSTRING...]
 */
#include <string.h>

#include "test_util.h"
#include "vk_plan.h"

/* lavapipe-like and GPU-like limits */
static const ww_vk_caps cpu_caps = {.is_cpu = 1,
                                    .max_groups = {65535, 65535, 65535},
                                    .max_invocations = 1024,
                                    .max_shared_bytes = 32768};
static const ww_vk_caps gpu_caps = {.is_cpu = 0,
                                    .max_groups = {2147483647u, 65535, 65535},
                                    .max_invocations = 1024,
                                    .max_shared_bytes = 49152};

static ww_node eltwise(uint32_t n)
{
    ww_node node = {.op = WW_OP_ELTWISE};
    node.p.eltwise.n = n;
    node.p.eltwise.op = WW_ELT_ADD;
    return node;
}

static uint64_t groups_of(const ww_vk_dispatch *d)
{
    return (uint64_t)d->groups[0] * d->groups[1] * d->groups[2];
}

/* One item per invocation: 64 lanes on a CPU driver, 256 on a GPU, just enough groups. */
static void test_items_width(const char *arg)
{
    (void)arg;
    char err[256];
    ww_vk_dispatch d;
    ww_node n = eltwise(1000);
    if (!TEST_OK(NULL, ww_vk_plan(&n, &cpu_caps, &d, err, sizeof err)))
        return;
    TEST_CHECK(d.shader == WW_SHADER_ELTWISE, "shader %d", (int)d.shader);
    TEST_CHECK(d.nspec == 3 && d.spec[0] == 64 && d.spec[1] == 1 && d.spec[2] == 1,
               "cpu: spec %u {%u, %u, %u}", d.nspec, d.spec[0], d.spec[1], d.spec[2]);
    TEST_CHECK(d.groups[0] == 16 && d.groups[1] == 1 && d.groups[2] == 1,
               "cpu: groups {%u, %u, %u} for 1000 items of 64", d.groups[0], d.groups[1],
               d.groups[2]);
    if (!TEST_OK(NULL, ww_vk_plan(&n, &gpu_caps, &d, err, sizeof err)))
        return;
    TEST_CHECK(d.spec[0] == 256 && d.groups[0] == 4, "gpu: %u lanes, %u groups", d.spec[0],
               d.groups[0]);

    /* a device that allows fewer invocations gets narrower groups, not an error */
    ww_vk_caps small = gpu_caps;
    small.max_invocations = 32;
    if (TEST_OK(NULL, ww_vk_plan(&n, &small, &d, err, sizeof err)))
        TEST_CHECK(d.spec[0] == 32 && d.groups[0] == 32, "32-invocation device: %u lanes, %u "
                   "groups", d.spec[0], d.groups[0]);

    n = eltwise(0); /* nothing to do: no groups along x */
    if (TEST_OK(NULL, ww_vk_plan(&n, &cpu_caps, &d, err, sizeof err)))
        TEST_CHECK(d.groups[0] == 0, "empty op: %u groups", d.groups[0]);
}

/* More groups than x allows spill into y, then z; every item still gets an invocation and the
 * spill wastes less than one row of groups. */
static void test_groups_spill(const char *arg)
{
    (void)arg;
    char err[256];
    ww_vk_caps caps = cpu_caps;
    caps.max_groups[0] = caps.max_groups[1] = caps.max_groups[2] = 10;
    static const uint32_t totals[] = {64 * 10, 64 * 11, 64 * 95 + 1, 64 * 1000};
    for (size_t i = 0; i < sizeof totals / sizeof totals[0]; i++) {
        ww_vk_dispatch d;
        ww_node n = eltwise(totals[i]);
        if (!TEST_OK(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err)))
            continue;
        uint64_t need = ww_vk_div_up(totals[i], 64);
        TEST_CHECK(d.groups[0] <= 10 && d.groups[1] <= 10 && d.groups[2] <= 10,
                   "%u items: groups {%u, %u, %u} beyond the limit 10", totals[i], d.groups[0],
                   d.groups[1], d.groups[2]);
        TEST_CHECK(groups_of(&d) >= need && groups_of(&d) < need + (uint64_t)d.groups[0],
                   "%u items: %llu groups for %llu needed", totals[i],
                   (unsigned long long)groups_of(&d), (unsigned long long)need);
    }
    ww_vk_dispatch d;
    ww_node n = eltwise(64 * 1001); /* 1001 groups > 10 x 10 x 10 */
    TEST_STATUS(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err), WW_ERR_UNSUPPORTED);
    TEST_CHECK(strstr(err, "exceed the device limit") != NULL, "message: %s", err);
}

/* Work whose linear invocation index would pass 2^32 is refused with a message rather than
 * dispatched to wrap onto real items. */
static void test_index_range(const char *arg)
{
    (void)arg;
    char err[256] = "";
    ww_vk_dispatch d;
    ww_node n = {.op = WW_OP_LOSS};
    n.p.loss.kind = WW_LOSS_L1;
    n.p.loss.C = n.p.loss.Ct = 1;
    n.p.loss.B = 2;
    n.p.loss.HW = 0x80000000u; /* 2^32 pixels */
    ww_vk_caps caps = gpu_caps;
    caps.max_groups[1] = caps.max_groups[2] = 2147483647u;
    TEST_STATUS(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err), WW_ERR_UNSUPPORTED);
    TEST_CHECK(strstr(err, "32-bit") != NULL, "message: %s", err);
    n.p.loss.B = 1; /* 2^31 pixels fit */
    TEST_OK(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err));
}

/* A reduction is no wider than its row (rounded up to the 8 / 32 lane granule) and keeps its
 * one float of shared memory per lane within the device's. */
static void test_row_width(const char *arg)
{
    (void)arg;
    char err[256];
    ww_vk_dispatch d;
    ww_node n = {.op = WW_OP_LAYERNORM};
    n.p.layernorm.D = 20;
    n.p.layernorm.rows = 7;
    n.p.layernorm.x_rs = n.p.layernorm.y_rs = 20;
    if (TEST_OK(NULL, ww_vk_plan(&n, &cpu_caps, &d, err, sizeof err)))
        TEST_CHECK(d.spec[0] == 24 && groups_of(&d) == 7, "cpu, D = 20: %u lanes, %llu groups",
                   d.spec[0], (unsigned long long)groups_of(&d));
    if (TEST_OK(NULL, ww_vk_plan(&n, &gpu_caps, &d, err, sizeof err)))
        TEST_CHECK(d.spec[0] == 32, "gpu, D = 20: %u lanes", d.spec[0]);
    n.p.layernorm.D = n.p.layernorm.x_rs = n.p.layernorm.y_rs = 768;
    ww_vk_caps caps = gpu_caps;
    caps.max_shared_bytes = 64;
    if (TEST_OK(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err)))
        TEST_CHECK(d.spec[0] == 16, "64 bytes of shared memory: %u lanes", d.spec[0]);
    caps.max_shared_bytes = 2;
    TEST_STATUS(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err), WW_ERR_UNSUPPORTED);
    TEST_CHECK(strstr(err, "shared memory") != NULL, "message: %s", err);
}

/* Kernels with a fixed workgroup size are refused, naming the op, on a device that allows
 * fewer invocations. */
static void test_invocation_limit(const char *arg)
{
    (void)arg;
    char err[256] = "";
    ww_vk_dispatch d;
    ww_node n = {.op = WW_OP_GEMM};
    n.p.gemm = (ww_gemm_params){.M = 512, .N = 512, .K = 64, .batch = 1, .a_sm = 64, .a_sk = 1,
                                .b_sk = 512, .b_sn = 1, .c_sm = 512};
    if (TEST_OK(NULL, ww_vk_plan(&n, &gpu_caps, &d, err, sizeof err)))
        TEST_CHECK(d.shader == WW_SHADER_GEMM_SHMEM, "gpu gemm: shader %d", (int)d.shader);
    ww_vk_caps caps = gpu_caps;
    caps.max_invocations = 128; /* the shared-memory tiles need 256 */
    TEST_STATUS(NULL, ww_vk_plan(&n, &caps, &d, err, sizeof err), WW_ERR_UNSUPPORTED);
    TEST_CHECK(strstr(err, "gemm") && strstr(err, "256") && strstr(err, "128"), "message: %s",
               err);
}

int main(int argc, char **argv)
{
    static const ww_test_case cases[] = {
        {"items_width", test_items_width, NULL},
        {"groups_spill", test_groups_spill, NULL},
        {"index_range", test_index_range, NULL},
        {"row_width", test_row_width, NULL},
        {"invocation_limit", test_invocation_limit, NULL},
    };
    return ww_test_main(argc, argv, cases, (int)(sizeof cases / sizeof cases[0]));
}
