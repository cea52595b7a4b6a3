"""Scoring and analysis: metrics, statistics, calibration, robustness, Grad-CAM, comparisons."""
