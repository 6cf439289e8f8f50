"""The base models by command-line name (``--model``), with their default sizes."""
from Models.BPR import BPR
from Models.NeuMF import NeuMF

BASE_MODELS = {"bpr": BPR, "neumf": NeuMF}
TEACHER_DIMS = {"bpr": 200, "neumf": 250}      # students: int(teacher dim * --percent 0.1) = 20, 25
MODEL_OF_CLASS = {cls.name: flag for flag, cls in BASE_MODELS.items()}


def build_model(model, n_users, n_items, dim):
    return BASE_MODELS[model](n_users, n_items, dim)
