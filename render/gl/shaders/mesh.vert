#version 330 core
// dcign: albedo-times-Lambert vertex stage; pyrender binds the attribute locations via defines.
layout(location = 0) in vec3 position;
layout(location = NORMAL_LOC) in vec3 normal;
layout(location = COLOR_0_LOC) in vec4 color_0;
layout(location = INST_M_LOC) in mat4 inst_m;

uniform mat4 M;
uniform mat4 V;
uniform mat4 P;

out vec3 frag_normal;
out vec3 frag_albedo;

void main()
{
    mat4 model = M * inst_m;
    gl_Position = P * V * model * vec4(position, 1.0);
    frag_normal = mat3(model) * normal;  // rigid poses only: no inverse-transpose needed
    frag_albedo = color_0.rgb;
}
