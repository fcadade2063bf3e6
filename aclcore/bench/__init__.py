"""Benchmarks: the measurement harness and the cases of ``acl bench`` and ``benchmarks/``.

* :mod:`.harness` -- the timing rule (alternating rounds, thread CPU time with one torch
  thread, ratios per round with median and spread) and the machine description;
* :mod:`.banks` -- kernel-bank generation per classic family against hand-written torch,
  ``lambdify``, sympytorch and kornia (optional), and the issue's Gabor figure;
* :mod:`.layers` -- analytic layers against ``nn.ConvNd`` (train, eval, peak memory);
* :mod:`.network` -- the training step of the reference AnaNN against its CNN;
* :mod:`.compiletime` -- compile time, warm and cold, against ``lambdify``;
* :mod:`.startup` -- ``acl`` commands and ``import aclcore`` + discovery against
  ``import torch``;
* :mod:`.fitting` -- fitting throughput of :func:`aclcore.fit.fit_kernels`;
* :mod:`.profiling` -- what dominates a figure (torch profiler, cProfile, ``-X importtime``);
* :mod:`.suite` -- the groups together, the sizes of ``acl bench`` and of the docs, the table.
"""
