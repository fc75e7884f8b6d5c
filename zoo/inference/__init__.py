"""Running a loaded Denoiser on photos: the tiled engine (padding, tiles, blending, memory
budget), batches of files (expand inputs, plan outputs, run, report) and the CPU runtime
(threads, allocator). A new engine (a distributed one, say) goes here beside ``batch``."""
