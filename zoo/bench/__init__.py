"""Benchmarks: quality (PSNR/SSIM against peers, ``quality``), speed against the machine's
measured peak (``speed``, its child process ``speed_child``, the peaks ``peaks``) and model
statistics (parameters, MACs: ``stats``). Shared output helpers are in ``report``."""
