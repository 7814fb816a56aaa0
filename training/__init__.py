"""nearmiss training: fit calibrated scheme classifiers on reviewed codes and evaluate them."""

from training.evaluate import (
    Averages,
    Calibration,
    CodeMetrics,
    ReliabilityBin,
    SchemeEvaluation,
    calibration_report,
    evaluate_codes,
    format_evaluation,
)
from training.features import VIEWS, Corpus, pool_sentences
from training.head import SchemeClassifier
from training.nb_logistic import NBLogisticRegression
from training.scheme import CandidateScore, SchemeModel, fit_scheme
from training.threshold import Thresholds, best_f1_threshold, learn_thresholds

__all__ = [
    "VIEWS",
    "Averages",
    "Calibration",
    "CandidateScore",
    "CodeMetrics",
    "Corpus",
    "NBLogisticRegression",
    "ReliabilityBin",
    "SchemeClassifier",
    "SchemeEvaluation",
    "SchemeModel",
    "Thresholds",
    "best_f1_threshold",
    "calibration_report",
    "evaluate_codes",
    "fit_scheme",
    "format_evaluation",
    "learn_thresholds",
    "pool_sentences",
]
