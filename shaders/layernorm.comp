#version 450
// LayerNorm over the last dim: y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * w + b.
// One workgroup per row (linear group index = row); the row is reduced through shared memory
// with a tree that is correct for any workgroup size (no subgroup operations). Two passes in
// fp32: mean, then the variance around it. y may be the same memory as x: every invocation only
// writes elements it alone read, after the last barrier that follows all reads.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer Wt { float w[]; };
layout(set = 0, binding = 2, std430) readonly buffer Bs { float b[]; };
layout(set = 0, binding = 3, std430) buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint D, rows;
    uint x_rs, y_rs;
    float eps;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
shared float red[LSIZE];

// Sum of v over the workgroup, returned to every invocation.
float group_sum(float v) {
    uint lid = gl_LocalInvocationIndex;
    red[lid] = v;
    barrier();
    for (uint n = LSIZE; n > 1u;) {
        uint h = (n + 1u) >> 1; // lanes [h, n) fold onto [0, n - h)
        if (lid < n - h)
            red[lid] += red[lid + h];
        barrier();
        n = h;
    }
    float s = red[0];
    barrier(); // red may be reused by the next call
    return s;
}

void main() {
    uint row = gl_WorkGroupID.x +
               gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    if (row >= pc.rows)
        return; // uniform over the workgroup
    uint lid = gl_LocalInvocationIndex;
    uint xb = pc.off[0] + row * pc.x_rs;
    uint yb = pc.off[3] + row * pc.y_rs;

    float s = 0.0;
    for (uint d = lid; d < pc.D; d += LSIZE)
        s += x[xb + d];
    float mean = group_sum(s) / float(pc.D);

    float v = 0.0;
    for (uint d = lid; d < pc.D; d += LSIZE) {
        float t = x[xb + d] - mean;
        v += t * t;
    }
    float rstd = inversesqrt(group_sum(v) / float(pc.D) + pc.eps);

    for (uint d = lid; d < pc.D; d += LSIZE)
        y[yb + d] = (x[xb + d] - mean) * rstd * w[pc.off[1] + d] + b[pc.off[2] + d];
}
