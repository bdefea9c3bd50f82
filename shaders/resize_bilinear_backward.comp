#version 450
// Bilinear resize backward, align_corners = true (ww_resize_bilinear_backward):
// dy [planes, Ho, Wo] -> dx [planes, H, W], dx += the forward's transpose (ww_resize_params:
// W, H of dx, Wo, Ho of dy). The forward's output row oy samples input rows y0 and
// y1 = min(y0 + 1, H - 1) with weights 1 - fy and fy, where n = oy (H - 1), y0 = n / (Ho - 1),
// fy = (n - y0 (Ho - 1)) / (Ho - 1) (y0 = 0, fy = 0 when Ho == 1); the same along x.
//
// A gather: one invocation per dx element sums, in a fixed order, the output pixels that read
// it. Row iy is read only by the oy with y0(oy) = iy - 1 or iy, which (y0 being non-decreasing
// in oy) form the window
//   oy >= ceil((iy - 1) (Ho - 1) / (H - 1))  (0 for iy = 0),
//   oy <= ((iy + 1) (Ho - 1) - 1) / (H - 1)  (capped at Ho - 1),
// every oy when H == 1 (all read row 0), oy = 0 alone when Ho == 1; inside the window each
// output row's weight for iy is recomputed exactly as the forward does (0 where it reads other
// rows). Columns alike.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer Dy { float dy[]; };
layout(set = 0, binding = 1, std430) buffer Dx { float dx[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint W, H, Wo, Ho, planes;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

// The window [lo, hi] of output indices that read input index i (n_in inputs, n_out outputs).
void window(uint i, uint n_in, uint n_out, out uint lo, out uint hi) {
    if (n_out == 1u) {
        lo = 0u;
        hi = 0u;
    } else if (n_in == 1u) {
        lo = 0u;
        hi = n_out - 1u;
    } else {
        uint m = n_out - 1u, d = n_in - 1u;
        lo = i == 0u ? 0u : ((i - 1u) * m + d - 1u) / d;
        hi = min(((i + 1u) * m - 1u) / d, m);
    }
}

// The weight output index o gives input index i.
float weight(uint o, uint i, uint n_in, uint n_out) {
    uint i0 = 0u;
    float f = 0.0;
    if (n_out > 1u) {
        uint n = o * (n_in - 1u);
        i0 = n / (n_out - 1u);
        f = float(n - i0 * (n_out - 1u)) / float(n_out - 1u);
    }
    uint i1 = min(i0 + 1u, n_in - 1u);
    return (i0 == i ? 1.0 - f : 0.0) + (i1 == i ? f : 0.0);
}

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint e = g * LSIZE + gl_LocalInvocationIndex;
    if (e >= pc.planes * pc.H * pc.W || pc.Ho == 0u || pc.Wo == 0u)
        return;
    uint ix = e % pc.W;
    uint r = e / pc.W;
    uint iy = r % pc.H;
    uint pl = r / pc.H;
    uint ylo, yhi, xlo, xhi;
    window(iy, pc.H, pc.Ho, ylo, yhi);
    window(ix, pc.W, pc.Wo, xlo, xhi);
    uint base = pc.off[0] + pl * pc.Ho * pc.Wo;
    float acc = 0.0;
    for (uint oy = ylo; oy <= yhi; oy++) {
        float wy = weight(oy, iy, pc.H, pc.Ho);
        float row = 0.0;
        for (uint ox = xlo; ox <= xhi; ox++)
            row += weight(ox, ix, pc.W, pc.Wo) * dy[base + oy * pc.Wo + ox];
        acc += wy * row;
    }
    uint i = pc.off[1] + e;
    dx[i] = dx[i] + acc;
}
