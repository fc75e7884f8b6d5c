"""Weights: model names and pretrained cards (``names``), weight files and their sha256
(``files``), references to a verified local file (``resolve``: local, bundled or the Hub), the
Hugging Face Hub cache (``hub``), building a ready Denoiser (``loader``), Hub export and push
(``publish``) and format conversion (``convert``)."""
