"""Photos in and out: read and write 8/16-bit PNG, TIFF, JPEG and WebP with alpha, ICC, EXIF and
orientation (``imageio``). A new image format goes here, as a module of its own that ``imageio``
dispatches to."""
