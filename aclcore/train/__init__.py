"""Stage 9 of the pipeline: training AnaNNs against their CNN baselines (``acl train``).

* :mod:`.loop` -- :func:`train_model`: AdamW with AKP / free-weight groups, schedule,
  evaluation every epoch, state file and resume, DDP, AMP, progress bar;
* :mod:`.config` -- :class:`TrainConfig`; :mod:`.batches` -- deterministic batches split
  across ranks; :mod:`.optim` -- optimiser and schedule; :mod:`.state` -- the state file;
  :mod:`.distributed` -- torchrun / DistributedDataParallel; :mod:`.progress` -- the bar;
  :mod:`.threads` -- CPU threads (``--threads auto``);
* :mod:`.experiment` -- :func:`run_experiment`: the analytic model and the CNN baseline
  trained alike, with a run directory of checkpoints, metrics, plots and formula cards;
* :mod:`.robustness` -- accuracy under additive Gaussian noise and rotations;
* :mod:`.report` and :mod:`.plots` -- the results table and the figures.
"""

from __future__ import annotations

from aclcore.train.config import TrainConfig
from aclcore.train.loop import EpochRecord, TrainResult, evaluate, train_model

__all__ = ["EpochRecord", "TrainConfig", "TrainResult", "evaluate", "train_model"]
