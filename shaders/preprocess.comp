#version 450
// 8-bit image -> normalised planar RGB y [3, Hp, Wp]: y = (v / 255 - mean[c]) * inv_std[c] for
// x < width, y < height, and 0 in the padding. Source bytes are read from 32-bit words (byte i
// is (w[i >> 2] >> 8 (i & 3)) & 0xff); off[0] is the byte offset of the source inside its
// binding, plane_off[] is relative to it. Formats as ww_pixel_format: RGBA, BGRA, RGBX, BGRX
// (4 bytes per pixel), RGB, BGR (3), NV12 (Y plane, interleaved U,V plane), I420 (Y, U, V
// planes); YUV is BT.601 limited range. One invocation per output pixel (writes 3 channels).
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

layout(set = 0, binding = 0, std430) readonly buffer S { uint src[]; };
layout(set = 0, binding = 1, std430) writeonly buffer Y { float y[]; };

layout(push_constant, std430) uniform PC {
    uint off[5];
    uint format, width, height;
    uint plane_off[3];
    uint plane_stride[3];
    uint Wp, Hp;
    float mean[3];
    float inv_std[3];
} pc;

const uint LSIZE = gl_WorkGroupSize.x * gl_WorkGroupSize.y * gl_WorkGroupSize.z;

float byte_at(uint i) {
    i += pc.off[0];
    return float((src[i >> 2] >> (8u * (i & 3u))) & 0xffu);
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
    if (xx >= pc.width || yy >= pc.height) {
        y[ob] = 0.0;
        y[ob + plane] = 0.0;
        y[ob + 2u * plane] = 0.0;
        return;
    }

    vec3 rgb;
    uint f = pc.format;
    if (f <= 5u) { // packed RGB(A)
        uint bpp = f <= 3u ? 4u : 3u;
        bool bgr = f == 1u || f == 3u || f == 5u;
        uint p0 = pc.plane_off[0] + yy * pc.plane_stride[0] + xx * bpp;
        vec3 v = vec3(byte_at(p0), byte_at(p0 + 1u), byte_at(p0 + 2u));
        rgb = bgr ? v.zyx : v;
    } else { // 6: NV12, 7: I420
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
        rgb = clamp(vec3(yl + 1.596027 * v, yl - 0.812968 * v - 0.391762 * u, yl + 2.017232 * u),
                    0.0, 255.0);
    }
    y[ob] = (rgb.r / 255.0 - pc.mean[0]) * pc.inv_std[0];
    y[ob + plane] = (rgb.g / 255.0 - pc.mean[1]) * pc.inv_std[1];
    y[ob + 2u * plane] = (rgb.b / 255.0 - pc.mean[2]) * pc.inv_std[2];
}
