#version 450
// Per-pixel training losses with their gradient (ww_loss, ww_loss_params), the same fp32 steps
// as core/cpu_loss.c. One invocation per pixel i = b HW + p of B * HW; channel k of a pixel lies
// HW elements after channel k - 1. A pixel of weight 0 reads nothing else and writes zeros, so
// NaN or Inf in its pred or target never reaches the outputs.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer Pred { float pred[]; };
layout(set = 0, binding = 1, std430) readonly buffer Target { float target[]; };
layout(set = 0, binding = 2, std430) readonly buffer Weight { float weight[]; };
layout(set = 0, binding = 3, std430) writeonly buffer Dpred { float dpred[]; };
layout(set = 0, binding = 4, std430) writeonly buffer Loss { float loss_px[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint kind, C, Ct, HW, B;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
const uint LAPLACIAN = 0u, L1 = 1u, CROSS_ENTROPY = 2u; // ww_loss_kind
const float LAP_A = 0.25, LAP_B = 4.0; // c = (b - a) sigmoid(r) + a

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.B * pc.HW)
        return;
    uint b = i / pc.HW, p = i % pc.HW;
    uint xo = pc.off[0] + b * pc.C * pc.HW + p;
    uint to = pc.off[1] + b * pc.Ct * pc.HW + p;
    uint go = pc.off[3] + b * pc.C * pc.HW + p;
    float w = weight[pc.off[2] + i];
    float l = 0.0;
    if (w == 0.0) {
        for (uint k = 0u; k < pc.C; k++)
            dpred[go + k * pc.HW] = 0.0;
    } else if (pc.kind == LAPLACIAN) {
        float r = pred[xo + pc.Ct * pc.HW];
        // sigmoid from e = exp(-|r|) <= 1: no overflow, and s (1 - s) = e q^2 without
        // cancellation
        float e = exp(-abs(r)), q = 1.0 / (1.0 + e);
        float s = r >= 0.0 ? q : e * q;
        float c = (LAP_B - LAP_A) * s + LAP_A, inv_c = 1.0 / c;
        float sum = 0.0;
        for (uint k = 0u; k < pc.Ct; k++) {
            float d = pred[xo + k * pc.HW] - target[to + k * pc.HW];
            sum += abs(d);
            dpred[go + k * pc.HW] = w * sign(d) * inv_c;
        }
        dpred[go + pc.Ct * pc.HW] =
            w * (inv_c - sum * inv_c * inv_c) * (LAP_B - LAP_A) * (e * q * q);
        l = sum * inv_c + log(c);
    } else if (pc.kind == L1) {
        float sum = 0.0;
        for (uint k = 0u; k < pc.C; k++) {
            float d = pred[xo + k * pc.HW] - target[to + k * pc.HW];
            sum += abs(d);
            dpred[go + k * pc.HW] = w * sign(d);
        }
        l = sum;
    } else {
        float id = target[to];
        if (!(id >= 0.0 && id < float(pc.C) && id == floor(id))) {
            for (uint k = 0u; k < pc.C; k++)
                dpred[go + k * pc.HW] = 0.0;
        } else {
            uint cls = uint(id);
            float m = pred[xo];
            for (uint k = 1u; k < pc.C; k++)
                m = max(m, pred[xo + k * pc.HW]);
            float sum = 0.0;
            for (uint k = 0u; k < pc.C; k++)
                sum += exp(pred[xo + k * pc.HW] - m);
            float inv = 1.0 / sum;
            for (uint k = 0u; k < pc.C; k++)
                dpred[go + k * pc.HW] =
                    w * (exp(pred[xo + k * pc.HW] - m) * inv - (k == cls ? 1.0 : 0.0));
            l = m + log(sum) - pred[xo + cls * pc.HW];
        }
    }
    loss_px[pc.off[4] + i] = w == 0.0 ? 0.0 : w * l;
}
