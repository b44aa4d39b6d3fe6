"""The OpenGL renderer (pyrender over EGL, a Lambert shader) and the mesh type it draws."""
