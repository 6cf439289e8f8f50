"""The base models by command-line name (``--model``), with their default sizes."""
from Models.AutoEncoder import ItemAutoEncoder, UserAutoEncoder
from Models.BPR import BPR
from Models.CML import CML
from Models.LightGCN import LightGCN
from Models.NeuMF import NeuMF

BASE_MODELS = {"bpr": BPR, "neumf": NeuMF, "lightgcn": LightGCN, "cml": CML, "uae": UserAutoEncoder,
               "iae": ItemAutoEncoder}
TEACHER_DIMS = {"bpr": 200, "neumf": 250, "lightgcn": 200, "cml": 200, "uae": 200, "iae": 200}   # students: int(teacher dim * --percent 0.1)
MODEL_OF_CLASS = {cls.name: flag for flag, cls in BASE_MODELS.items()}


def build_model(model, split, dim, cml_negatives=None, neumf_part=None):
    """A fresh base model of ``--model`` for ``split`` (a graph model also gets its graph); ``cml_negatives``:
    CML's negatives per training pair, ``neumf_part``: NeuMF's part ("both", "gmf", "mlp"); None: defaults."""
    options = {"negatives": cml_negatives} if model == "cml" and cml_negatives is not None else {}
    if model == "neumf" and neumf_part is not None:
        options["part"] = neumf_part
    return BASE_MODELS[model](split.n_users, split.n_items, dim, **options)


def on_device(model, split, device):
    """Move ``model`` to ``device`` and give it what it needs of the split there."""
    model = model.to(device)
    return model.attach(split) if hasattr(model, "attach") else model
