#version 450
// Bilinear resize, align_corners = true: x [planes, H, W] -> y [planes, Ho, Wo].
// sy = oy (H-1) / (Ho-1) (0 when Ho == 1), y0 = floor(sy), y1 = min(y0+1, H-1), fy = sy - y0;
// the same along x. The integer part and the fraction are taken exactly with integer
// arithmetic. One invocation per output element.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { float x[]; };
layout(set = 0, binding = 1, std430) writeonly buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint W, H, Wo, Ho, planes;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.planes * pc.Ho * pc.Wo)
        return;
    uint ox = i % pc.Wo;
    uint r = i / pc.Wo;
    uint oy = r % pc.Ho;
    uint pl = r / pc.Ho;

    uint y0 = 0u, x0 = 0u;
    float fy = 0.0, fx = 0.0;
    if (pc.Ho > 1u) {
        uint ny = oy * (pc.H - 1u);
        y0 = ny / (pc.Ho - 1u);
        fy = float(ny - y0 * (pc.Ho - 1u)) / float(pc.Ho - 1u);
    }
    if (pc.Wo > 1u) {
        uint nx = ox * (pc.W - 1u);
        x0 = nx / (pc.Wo - 1u);
        fx = float(nx - x0 * (pc.Wo - 1u)) / float(pc.Wo - 1u);
    }
    uint y1 = min(y0 + 1u, pc.H - 1u);
    uint x1 = min(x0 + 1u, pc.W - 1u);

    uint base = pc.off[0] + pl * pc.H * pc.W;
    float v00 = x[base + y0 * pc.W + x0];
    float v01 = x[base + y0 * pc.W + x1];
    float v10 = x[base + y1 * pc.W + x0];
    float v11 = x[base + y1 * pc.W + x1];
    float top = (1.0 - fx) * v00 + fx * v01;
    float bot = (1.0 - fx) * v10 + fx * v11;
    y[pc.off[1] + i] = (1.0 - fy) * top + fy * bot;
}
