#version 450
// ReLU backward (ww_relu_backward): dx[i] += x[i] > 0 ? dy[i] : 0 over n elements
// (ww_eltwise_params). One invocation per element.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) readonly buffer Dy { float dy[]; };
layout(set = 0, binding = 2, std430) buffer Dx { float dx[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint n, op;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.n)
        return;
    float v = x[pc.off[0] + i];
    float d = dy[pc.off[1] + i];
    uint o = pc.off[2] + i;
    dx[o] = dx[o] + (v > 0.0 ? d : 0.0);
}
