#version 450
// 8-bit image -> normalised planar RGB y [3, Hp, Wp]: y = (v / 255 - mean[c]) * inv_std[c] for
// x < out_w, y < out_h, and 0 in the padding. v is the source pixel when out_w x out_h is the
// source size, else the bilinear blend (half-pixel centres, ww.h) of four source pixels, each
// converted to RGB first. Source bytes are read from 32-bit words (byte i is
// (w[i >> 2] >> 8 (i & 3)) & 0xff); off[0] is the byte offset of the source inside its binding,
// plane_off[] is relative to it. Formats as ww_pixel_format: RGBA, BGRA, RGBX, BGRX (4 bytes per
// pixel), RGB, BGR (3), NV12 (Y plane, interleaved U,V plane), I420 (Y, U, V planes); YUV is
// BT.601 limited range. One invocation per output pixel (writes 3 channels). The float steps of
// the resampling follow the CPU kernel (core/cpu_ops.c, PREPROCESS); `precise` keeps the compiler
// from fusing them, so both backends pick the same source pixels.
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer S { uint src[]; };
layout(set = 0, binding = 1, std430) writeonly buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint format, width, height;
    uint plane_off[3];
    uint plane_stride[3];
    uint Wp, Hp;
    uint out_w, out_h;
    float scale_x, scale_y;
    float mean[3];
    float inv_std[3];
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

float byte_at(uint i) {
    i += pc.off[0];
    return float((src[i >> 2] >> (8u * (i & 3u))) & 0xffu);
}

// Source pixel (xx, yy) as R, G, B in [0, 255].
vec3 fetch_rgb(uint xx, uint yy) {
    uint f = pc.format;
    if (f <= 5u) { // packed RGB(A)
        uint bpp = f <= 3u ? 4u : 3u;
        bool bgr = f == 1u || f == 3u || f == 5u;
        uint p0 = pc.plane_off[0] + yy * pc.plane_stride[0] + xx * bpp;
        vec3 v = vec3(byte_at(p0), byte_at(p0 + 1u), byte_at(p0 + 2u));
        return bgr ? v.zyx : v;
    }
    // 6: NV12, 7: I420
    float Y = byte_at(pc.plane_off[0] + yy * pc.plane_stride[0] + xx);
    float U, V;
    if (f == 6u) {
        uint c = pc.plane_off[1] + (yy >> 1) * pc.plane_stride[1] + (xx >> 1) * 2u;
        U = byte_at(c);
        V = byte_at(c + 1u);
    } else {
        U = byte_at(pc.plane_off[1] + (yy >> 1) * pc.plane_stride[1] + (xx >> 1));
        V = byte_at(pc.plane_off[2] + (yy >> 1) * pc.plane_stride[2] + (xx >> 1));
    }
    float yl = 1.164383 * (Y - 16.0);
    float u = U - 128.0, v = V - 128.0;
    return clamp(vec3(yl + 1.596027 * v, yl - 0.812968 * v - 0.391762 * u, yl + 2.017232 * u),
                 0.0, 255.0);
}

// Along one axis of n source pixels: output index o reads i0 and i1 with weight f on i1.
void bilinear_axis(uint o, float scale, uint n, out uint i0, out uint i1, out float f) {
    precise float s = (float(o) + 0.5) * scale - 0.5;
    precise float c = clamp(s, 0.0, float(n - 1u));
    i0 = uint(c);
    i1 = min(i0 + 1u, n - 1u);
    precise float w = c - float(i0);
    f = w;
}

void main() {
    uint g = gl_WorkGroupID.x +
             gl_NumWorkGroups.x * (gl_WorkGroupID.y + gl_NumWorkGroups.y * gl_WorkGroupID.z);
    uint i = g * LSIZE + gl_LocalInvocationIndex;
    uint plane = pc.Hp * pc.Wp;
    if (i >= plane)
        return;
    uint xx = i % pc.Wp;
    uint yy = i / pc.Wp;
    uint ob = pc.off[1] + i;
    if (xx >= pc.out_w || yy >= pc.out_h) {
        y[ob] = 0.0;
        y[ob + plane] = 0.0;
        y[ob + 2u * plane] = 0.0;
        return;
    }

    vec3 rgb;
    if (pc.out_w == pc.width && pc.out_h == pc.height) {
        rgb = fetch_rgb(xx, yy);
    } else {
        uint x0, x1, y0, y1;
        float fx, fy;
        bilinear_axis(xx, pc.scale_x, pc.width, x0, x1, fx);
        bilinear_axis(yy, pc.scale_y, pc.height, y0, y1, fy);
        vec3 p00 = fetch_rgb(x0, y0), p01 = fetch_rgb(x1, y0);
        vec3 p10 = fetch_rgb(x0, y1), p11 = fetch_rgb(x1, y1);
        precise vec3 top = p00 + fx * (p01 - p00);
        precise vec3 bottom = p10 + fx * (p11 - p10);
        precise vec3 v = top + fy * (bottom - top);
        rgb = v;
    }
    y[ob] = (rgb.r / 255.0 - pc.mean[0]) * pc.inv_std[0];
    y[ob + plane] = (rgb.g / 255.0 - pc.mean[1]) * pc.inv_std[1];
    y[ob + 2u * plane] = (rgb.b / 255.0 - pc.mean[2]) * pc.inv_std[2];
}
