"""Forecasting models: windowed datasets, walk-forward splits, torch networks, baselines, ensemble,
honest evaluation, hyperparameter search and the BentoML registry.

Imports nothing of the project but ``kimera`` core. Heavy libraries (torch, lightgbm, optuna,
bentoml, matplotlib) are imported by the modules that need them, so ``import models`` is cheap.
"""
