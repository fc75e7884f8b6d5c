"""Pixel science in numpy, used by training, benchmarks, the conformance kit and plugins alike:
noise synthesis and sigma estimation (``noise``), PSNR/SSIM (``metrics``) and the synthetic test
images (``samples``)."""
