"""Weights: model names and pretrained cards (``names``), weight files and their sha256
(``files``), what a file says about itself (``metadata``), references to a verified local file
(``resolve``: local, bundled or the Hub), the Hugging Face Hub (``hub``) and its cache (``cache``),
building a ready Denoiser (``loader``), Hub export and push (``publish``) and format conversion
(``convert``)."""
