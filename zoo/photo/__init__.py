"""Photos in and out (``imageio``): read 8/16-bit PNG, TIFF, JPEG, WebP, GIF and what else Pillow
opens, 8-bit CMYK JPEG and TIFF through their ICC profile, HEIC (``heif``, pillow-heif) and camera
RAW (``raw``, LibRaw through rawpy); write PNG, TIFF, JPEG, WebP and HEIC with alpha, ICC, EXIF and
orientation. ``imageio`` dispatches to one module per concern: ``formats`` (suffixes and
``output_suffix``), ``png`` (chunk CRCs), ``pillow``, ``tiff``, ``exif16`` (EXIF into 16-bit TIFF),
``cmyk``, ``frames`` (multi-frame inputs refused), ``raw``, ``heif``, on top of ``base`` (the Photo).
A new image format goes here, as a module of its own that ``imageio`` dispatches to."""
