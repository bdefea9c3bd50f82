#version 450
// AdamW step over flat arrays (ww_adamw), one invocation per element:
//   g = grad * scale; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//   p -= lr * ((m / bc1) / (sqrt(v / bc2) + eps) + wd * p).
// With has_scalars, lr, bc1, bc2 and grad_scale come from the scalars buffer, and the scale is
// clipped to the global norm max_norm (PyTorch's clip_grad_norm_) when max_norm > 0.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) buffer P { float param[]; };
layout(set = 0, binding = 1, std430) readonly buffer G { float grad[]; };
layout(set = 0, binding = 2, std430) buffer M { float mom[]; };
layout(set = 0, binding = 3, std430) buffer V { float vel[]; };
layout(set = 0, binding = 4, std430) readonly buffer S { float scal[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint n;
    float lr, beta1, beta2, eps, weight_decay, bias_corr1, bias_corr2, grad_scale;
    uint has_scalars;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.n)
        return;
    float lr = pc.lr, bc1 = pc.bias_corr1, bc2 = pc.bias_corr2, scale = pc.grad_scale;
    if (pc.has_scalars != 0u) {
        uint so = pc.off[4];
        lr = scal[so + 0u];
        bc1 = scal[so + 1u];
        bc2 = scal[so + 2u];
        scale = scal[so + 3u];
        float max_norm = scal[so + 4u];
        if (max_norm > 0.0) {
            float norm = sqrt(scal[so + 5u]) * abs(scale);
            float clip = max_norm / (norm + 1e-6);
            if (clip < 1.0)
                scale *= clip;
        }
    }
    float gr = grad[pc.off[1] + i] * scale;
    float m = pc.beta1 * mom[pc.off[2] + i] + (1.0 - pc.beta1) * gr;
    float v = pc.beta2 * vel[pc.off[3] + i] + (1.0 - pc.beta2) * (gr * gr);
    mom[pc.off[2] + i] = m;
    vel[pc.off[3] + i] = v;
    float mhat = m / bc1, vhat = v / bc2;
    float p = param[pc.off[0] + i];
    param[pc.off[0] + i] = p - lr * (mhat / (sqrt(vhat) + pc.eps) + pc.weight_decay * p);
}
