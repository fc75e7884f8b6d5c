"""Photos in and out (``imageio``): read 8/16-bit PNG, TIFF, JPEG, WebP, GIF and what else Pillow
opens, 8-bit CMYK JPEG and TIFF through their ICC profile; write PNG, TIFF, JPEG and WebP with
alpha, ICC, EXIF and orientation. ``imageio`` dispatches to one module per concern: ``formats``
(suffixes and ``output_suffix``), ``png`` (chunk CRCs), ``pillow``, ``tiff``, ``cmyk``, ``frames``
(multi-frame inputs refused), on top of ``base`` (the Photo). A new image format goes here, as a
module of its own that ``imageio`` dispatches to."""
