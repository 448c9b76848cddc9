"""Calibrated image scores: a map from the network's raw score to the observed frequency of
a mass, fitted on out-of-fold predictions and stored in the weights' JSON
(``"calibration"``), so that a score of 0.7 means a mass about 7 times in 10 on patients like
those the fit saw. The Predictor applies it; results keep the raw score beside it.

Two forms: isotonic (pool-adjacent-violators: a non-decreasing step curve, interpolated
between the steps' centres) and logistic (Platt: sigmoid(a * logit(score) + b))."""

from __future__ import annotations

import math

import numpy as np

EPS = 1e-6


def fit_isotonic(scores, labels) -> dict:
    order = np.argsort(np.asarray(scores, dtype=np.float64), kind="stable")
    x = np.asarray(scores, dtype=np.float64)[order]
    y = np.asarray(labels, dtype=np.float64)[order]
    if not len(x):
        raise ValueError("no predictions to calibrate on")
    blocks: list[list[float]] = []  # [sum of labels, count, sum of scores]
    for score, label in zip(x, y):
        blocks.append([label, 1.0, score])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count, score_sum = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
            blocks[-1][2] += score_sum
    return {
        "method": "isotonic",
        "x": [float(b[2] / b[1]) for b in blocks],
        "y": [float(b[0] / b[1]) for b in blocks],
        "n": int(len(x)),
    }


def newton_logistic(
    features: np.ndarray, labels: np.ndarray, iterations: int = 100, signs=None, ridge: float = 1e-6
) -> np.ndarray:
    """Logistic regression of ``labels`` on ``features`` (n x k) with an intercept, by
    Newton's method with a ridge (tiny by default: separable data stays finite). Returns k weights then
    the intercept. ``signs`` (+1, -1 or 0 per feature) constrains a weight's sign: a weight
    fitted with the wrong sign is set to 0 and the others refitted (on a small, noisy fold a
    calibration with a negative slope would turn the ranking upside down)."""
    x_all = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    free = list(range(x_all.shape[1]))
    while True:
        x = np.hstack([x_all[:, free], np.ones((len(x_all), 1))])
        theta = np.zeros(x.shape[1])
        if free:
            theta[0] = 1.0 if not signs or signs[free[0]] >= 0 else -1.0

        def loss(t, x=x):
            z = x @ t
            return float(np.sum(np.logaddexp(0, z) - y * z) + 0.5 * ridge * t @ t)

        for _ in range(iterations):
            p = 1 / (1 + np.exp(-np.clip(x @ theta, -50, 50)))
            gradient = x.T @ (p - y) + ridge * theta
            hessian = (x * (p * (1 - p) + 1e-9)[:, None]).T @ x + ridge * np.eye(x.shape[1])
            step = np.linalg.solve(hessian, gradient)
            # Damped: a full Newton step from a poor start can overshoot into saturation, where
            # the curvature vanishes and the next steps run off (a film calibration reached a
            # slope of 1.3e8); halve it until the loss does not rise.
            before, scale = loss(theta), 1.0
            while scale > 1e-6 and loss(theta - scale * step) > before:
                scale /= 2
            theta = theta - scale * step
            if np.abs(scale * step).max() < 1e-9:
                break
        wrong = [f for i, f in enumerate(free) if signs and signs[f] and np.sign(theta[i]) == -signs[f]]
        if not wrong:
            result = np.zeros(x_all.shape[1] + 1)
            result[free] = theta[:-1]
            result[-1] = theta[-1]
            return result
        free = [f for f in free if f not in wrong]


def fit_logistic(scores, labels, iterations: int = 100) -> dict:
    """Platt scaling on the logit of the score (two parameters), the slope kept >= 0 (a score
    that does not separate becomes the base rate, never its own inverse)."""
    s = np.clip(np.asarray(scores, dtype=np.float64), EPS, 1 - EPS)
    if not len(s):
        raise ValueError("no predictions to calibrate on")
    a, b = newton_logistic(np.log(s / (1 - s))[:, None], np.asarray(labels, dtype=np.float64), iterations, signs=[1])
    return {"method": "logistic", "a": float(a), "b": float(b), "n": int(len(s))}


def sigmoid(z: float) -> float:
    """1 / (1 + e^-z) for any z: a steep fit on a score near 0 or 1 must not overflow."""
    return 1 / (1 + math.exp(-max(-700.0, min(700.0, float(z)))))


def calibrate(score: float, calibration: dict | None) -> float:
    """The calibrated score (the raw one when there is no calibration)."""
    if not calibration:
        return float(score)
    if calibration["method"] == "isotonic":
        return float(np.interp(score, calibration["x"], calibration["y"]))
    if calibration["method"] == "logistic":
        s = min(max(float(score), EPS), 1 - EPS)
        return sigmoid(calibration["a"] * math.log(s / (1 - s)) + calibration["b"])
    raise ValueError(f"unknown calibration method {calibration['method']!r}")
