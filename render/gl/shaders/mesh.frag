#version 330 core
// dcign: diffuse (Lambertian) shading of the per-vertex albedo by one or more directional
// lights plus an ambient term, written as grayscale (0.21 R + 0.72 G + 0.07 B, as the authors).
struct DirectionalLight {
    vec3 direction;
    vec3 color;
    float intensity;
};

uniform DirectionalLight directional_lights[MAX_DIRECTIONAL_LIGHTS];
uniform int n_directional_lights;
uniform vec3 ambient_light;

in vec3 frag_normal;
in vec3 frag_albedo;
out vec4 frag_color;

void main()
{
    vec3 n = normalize(frag_normal);
    vec3 irradiance = ambient_light;
    for (int i = 0; i < n_directional_lights; i++) {
        float lambert = max(dot(n, -directional_lights[i].direction), 0.0);
        irradiance += directional_lights[i].color * directional_lights[i].intensity * lambert;
    }
    float gray = dot(frag_albedo * irradiance, vec3(0.21, 0.72, 0.07));
    frag_color = vec4(vec3(clamp(gray, 0.0, 1.0)), 1.0);
}
