#version 450
// Visualisation to packed RGBA words (R | G << 8 | B << 16 | A << 24), one invocation per
// output pixel, consecutive invocations along x; rgba [H, W] with row stride y_rs.
// mode 0 (FLOW): x = flow [2, H, W] (u plane, v plane x_ps words later), Middlebury wheel with
//   a = 1 / max_flow.
// mode 3 (FLOW_HSV): the same flow, hue from the direction, value min(1, |f| a) (ww.h).
// mode 1 (SCALAR): x [H, W] floats, entry min(floor((x - a) * b), n - 1) of table (b = n / range).
// mode 2 (LABELS): x [H, W] ids, table[id] if id < n.
// Non-finite inputs and ids >= n give opaque black. The float steps follow the CPU kernel
// (core/cpu_ops.c, COLORIZE) product for product; `precise` keeps the compiler from fusing them,
// so both backends take the same side of the wheel's unit circle and the same table entry.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer X { uint x[]; }; // floats or ids as words
layout(set = 0, binding = 1, std430) readonly buffer T { uint table[]; }; // absent for FLOW
layout(set = 0, binding = 2, std430) writeonly buffer Y { uint y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint W, H, mode;
    uint x_rs, x_ps;
    uint y_rs;
    uint n;
    float a, b;
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;
const uint BLACK = 0xff000000u;

// Finite by the exponent bits: isinf / isnan may be folded away by fast-math compilers.
bool finite_bits(uint w) { return (w & 0x7f800000u) != 0x7f800000u; }

// Entry k (0..54) of the Middlebury wheel: RY 15, YG 6, GC 4, CB 11, BM 13, MR 6.
vec3 wheel_rgb(uint k) {
    uint r, g, b;
    if (k < 15u) {
        r = 255u; g = 255u * k / 15u; b = 0u;
    } else if (k < 21u) {
        k -= 15u; r = 255u - 255u * k / 6u; g = 255u; b = 0u;
    } else if (k < 25u) {
        k -= 21u; r = 0u; g = 255u; b = 255u * k / 4u;
    } else if (k < 36u) {
        k -= 25u; r = 0u; g = 255u - 255u * k / 11u; b = 255u;
    } else if (k < 49u) {
        k -= 36u; r = 255u * k / 13u; g = 0u; b = 255u;
    } else {
        k -= 49u; r = 255u; g = 0u; b = 255u - 255u * k / 6u;
    }
    return vec3(float(r), float(g), float(b));
}

// Channels 0..1 as bytes, rounded half up, with opaque alpha.
uint pack_rgb(vec3 col) {
    uvec3 c = uvec3(clamp(floor(col * 255.0 + 0.5), 0.0, 255.0));
    return c.r | (c.g << 8) | (c.b << 16) | BLACK;
}

uint flow_pixel(uint uw, uint vw) {
    if (!finite_bits(uw) || !finite_bits(vw))
        return BLACK;
    float u = uintBitsToFloat(uw), v = uintBitsToFloat(vw);
    precise float un = u * pc.a;
    precise float vn = v * pc.a;
    precise float r2 = un * un + vn * vn;
    float ang = (v == 0.0 && u >= 0.0) ? -1.0 : atan(-v, -u) * 0.318309886;
    float fk = clamp((ang + 1.0) * 0.5 * 54.0, 0.0, 54.0);
    uint k0 = min(uint(fk), 54u);
    uint k1 = k0 == 54u ? 0u : k0 + 1u;
    float f = fk - float(k0);
    vec3 col = ((1.0 - f) * wheel_rgb(k0) + f * wheel_rgb(k1)) * (1.0 / 255.0);
    col = r2 <= 1.0 ? 1.0 - sqrt(r2) * (1.0 - col) : col * 0.75;
    return pack_rgb(col);
}

uint flow_pixel_hsv(uint uw, uint vw) {
    if (!finite_bits(uw) || !finite_bits(vw))
        return BLACK;
    float u = uintBitsToFloat(uw), v = uintBitsToFloat(vw);
    precise float un = u * pc.a;
    precise float vn = v * pc.a;
    precise float r2 = un * un + vn * vn;
    if (!(r2 > 0.0)) // no motion: value 0 whatever the hue (atan(0, 0) is undefined)
        return BLACK;
    float val = min(sqrt(r2), 1.0);
    float h = atan(v, u) * 0.159154943;
    h = h < 0.0 ? h + 1.0 : h;
    h = h >= 1.0 ? 0.0 : h;
    precise float h6 = h * 6.0;
    uint i = min(uint(h6), 5u);
    precise float f = h6 - float(i);
    float q = val * (1.0 - f), t = val * f;
    vec3 col = i == 0u ? vec3(val, t, 0.0)
             : i == 1u ? vec3(q, val, 0.0)
             : i == 2u ? vec3(0.0, val, t)
             : i == 3u ? vec3(0.0, q, val)
             : i == 4u ? vec3(t, 0.0, val)
                       : vec3(val, 0.0, q);
    return pack_rgb(col);
}

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    if (i >= pc.W * pc.H)
        return;
    uint py = i / pc.W;
    uint px = i % pc.W;
    uint xi = pc.off[0] + py * pc.x_rs + px;
    uint out_px;
    if (pc.mode == 0u) {
        out_px = flow_pixel(x[xi], x[xi + pc.x_ps]);
    } else if (pc.mode == 3u) {
        out_px = flow_pixel_hsv(x[xi], x[xi + pc.x_ps]);
    } else if (pc.mode == 1u) {
        uint w = x[xi];
        if (!finite_bits(w) || pc.n == 0u) {
            out_px = BLACK;
        } else {
            precise float d = uintBitsToFloat(w) - pc.a;
            precise float t = d * pc.b; // t * n
            uint k = !(t > 0.0) ? 0u : t >= float(pc.n) ? pc.n - 1u : min(uint(t), pc.n - 1u);
            out_px = table[pc.off[1] + k];
        }
    } else {
        uint id = x[xi];
        out_px = id < pc.n ? table[pc.off[1] + id] : BLACK;
    }
    y[pc.off[2] + py * pc.y_rs + px] = out_px;
}
