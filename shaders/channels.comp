#version 450
// Over the channel dim of x [B, C, HW], one invocation per pixel (b, p):
// mode 0 (SOFTMAX): y [B, C, HW] = softmax over C.
// mode 1 (ARGMAX): ids [B, HW] = argmax over C (ties -> lowest index); if has_conf,
//   conf [B, HW] = softmax probability of the winner = 1 / sum_c exp(x_c - max).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
// Binding 1 holds floats (SOFTMAX) or uints (ARGMAX): declared once as uint words.
layout(set = 0, binding = 1, std430) writeonly buffer Y { uint y[]; };
layout(set = 0, binding = 2, std430) writeonly buffer F { float conf[]; }; // ARGMAX, has_conf

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint C, HW, B;
    uint mode;
    uint has_conf;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.B * pc.HW || pc.C == 0u)
        return;
    uint b = i / pc.HW;
    uint px = i % pc.HW;
    uint xb = pc.off[0] + b * pc.C * pc.HW + px;

    float m = x[xb];
    uint best = 0u;
    for (uint c = 1u; c < pc.C; c++) {
        float v = x[xb + c * pc.HW];
        if (v > m) {
            m = v;
            best = c;
        }
    }
    float s = 0.0;
    for (uint c = 0u; c < pc.C; c++)
        s += exp(x[xb + c * pc.HW] - m);

    if (pc.mode == 0u) {
        float inv = 1.0 / s;
        uint yb = pc.off[1] + b * pc.C * pc.HW + px;
        for (uint c = 0u; c < pc.C; c++)
            y[yb + c * pc.HW] = floatBitsToUint(exp(x[xb + c * pc.HW] - m) * inv);
    } else {
        y[pc.off[1] + i] = best;
        if (pc.has_conf != 0u)
            conf[pc.off[2] + i] = 1.0 / s;
    }
}
