"""Every method and reference run, declared once.

The results tables (``Utils.reporting.results``), the plots and notebook (``Utils.reporting.plots``), the speed benchmark
(``benchmarks/speed.py``), the end-to-end tests and the GPU jobs read this table; adding a method is
its model file, its thin entry script and one entry here (README, "Adding a method").

A run's log on split seed s is ``<name>`` (s = 0) or ``<name>_LOO<s>`` under ``logs/<dataset>/``; its
command is ``python <script> <flags> [--LOO_seed s]``: the name the entry script gives that command
(``Utils.training.run_names``) is the run's name.
"""
import argparse
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    name: str                   # log file stem on split seed 0, and the row of the tables
    script: str                 # entry script
    flags: tuple = ()           # flags of the reference run, beyond the script's defaults
    paper: str = None           # its row in Utils.paper (the paper's Table 2 / the original logs)
    what: str = ""              # one line for people
    flag_suffix: str = ""       # the end of ``name`` its flags write (``_teacher_reg0``): split and seed go before it

    def command(self, split_seed=0):
        """The command-line words after ``python``."""
        return [self.script, *self.flags] + (["--LOO_seed", str(split_seed)] if split_seed else [])

    def log_name(self, split_seed=0, train_seed=0):
        """``NeuMF_URRD_teacher_reg0`` on split seed 1, training seed 2 -> ``NeuMF_URRD_LOO1_seed2_teacher_reg0``
        (Utils.training.run_names writes the split and the seed first)."""
        stem = self.name[:len(self.name) - len(self.flag_suffix)]
        return (stem + (f"_LOO{split_seed}" if split_seed else "") + (f"_seed{train_seed}" if train_seed else "")
                + self.flag_suffix)

    def __post_init__(self):
        if not self.name.endswith(self.flag_suffix):
            raise ValueError(f"run {self.name!r} does not end with its flag suffix {self.flag_suffix!r}")


RUNS = {r.name: r for r in (
    Run("teacher", "main_teacher.py", (), "teacher", "BPR-MF teacher, dim 200"),
    Run("student", "main_teacher.py", ("--dim", "20"), "student", "BPR-MF student without distillation, dim 20"),
    Run("DE", "main_DE.py", (), "DE", "Distillation Experts (CIKM'20)"),
    Run("URRD", "main_URRD.py", (), "URRD", "Relaxed Ranking Distillation, user side (CIKM'20)"),
    Run("IR_RRD", "main_URRD.py", ("--IR_reg_lmbda", "5e-4"), "IR_RRD", "RRD with the item side"),
    Run("URRD_unsampled_K100", "main_URRD.py", ("--sampling", "none"), None, "unsampled RRD (WWW'23)"),
    Run("DERRD", "main_DERRD.py", (), "DERRD", "DE + RRD (CIKM'20)"),
    Run("DERRD_unsampled", "main_DERRD.py", ("--sampling", "none"), None, "DE + unsampled RRD"),
    Run("RD", "main_RD.py", (), "RD", "Ranking Distillation (KDD'18), the paper's baseline"),
    Run("CD", "main_CD.py", (), "CD", "Collaborative Distillation (ICDM'19), the paper's baseline, student-guided"),
    Run("CD_teacher", "main_CD.py", ("--guide", "teacher"), None, "CD guided by the teacher's fixed ranking"),
    Run("FTD", "main_TD.py", (), None, "Full Topology Distillation (KDD'21)"),
    Run("HTD", "main_TD.py", ("--variant", "htd"), None, "Hierarchical Topology Distillation (KDD'21)"),
    Run("DCD", "main_DCD.py", (), None, "Dual Correction Distillation (CIKM'21)"),
    Run("DE_DCD", "main_DCD.py", ("--with_DE",), None, "DE + DCD (as DE-RRD, with DCD for RRD)"),
    Run("UnKD", "main_UnKD.py", (), None, "Unbiased Knowledge Distillation (WSDM'23): pairs within popularity groups"),
    Run("RCEKD", "main_RCEKD.py", (), None, "RCE-KD (2025): CE over the student's top and a collaborative sample"),
    Run("HetComp", "main_HetComp.py", (), None, "HetComp (WWW'23): MF student from six teacher families' trajectories"),
    Run("NeuMF_teacher", "main_teacher.py", ("--model", "neumf"), None, "NeuMF teacher, dim 250"),
    Run("NeuMF_student", "main_teacher.py", ("--model", "neumf", "--dim", "25"), None, "NeuMF student, dim 25"),
    Run("NeuMF_DE", "main_DE.py", ("--model", "neumf"), None, "DE on NeuMF (lambda_DE 1e-4)"),
    Run("NeuMF_URRD", "main_URRD.py", ("--model", "neumf"), None, "RRD on NeuMF (lambda 0.1)"),
    Run("NeuMF_DERRD", "main_DERRD.py", ("--model", "neumf"), None, "DE-RRD on NeuMF"),
    Run("NeuMF_RD", "main_RD.py", ("--model", "neumf"), None, "RD on NeuMF"),
    Run("NeuMF_CD", "main_CD.py", ("--model", "neumf"), None, "CD on NeuMF"),
    # the NeuMF column from the teacher selected on validation (no weight decay; docs/results.md, NeuMF)
    Run("NeuMF_teacher_reg0", "main_teacher.py", ("--model", "neumf", "--reg", "0"), None,
        "NeuMF teacher, dim 250, no weight decay (selected on validation)", "_reg0"),
    *(Run(f"NeuMF_{base}_teacher_reg0", f"main_{base}.py", ("--model", "neumf", "--teacher_reg", "0"), None,
          f"{label} on NeuMF, from the selected NeuMF teacher", "_teacher_reg0")
      for base, label in (("RD", "RD"), ("CD", "CD"), ("DE", "DE"))),
    # RRD's weight on NeuMF chosen on validation (0.1, 0.01, 0.001, 1e-4 -> 0.001; docs/results.md, NeuMF)
    *(Run(f"NeuMF_{base}_teacher_reg0_URRD_lmbda0.001", f"main_{base}.py",
          ("--model", "neumf", "--teacher_reg", "0", "--URRD_lmbda", "0.001"), None,
          f"{label} on NeuMF, from the selected NeuMF teacher, RRD weight chosen on validation",
          "_teacher_reg0_URRD_lmbda0.001")
      for base, label in (("URRD", "RRD"), ("DERRD", "DE-RRD"))),
)}

# The DE-RRD paper's Table 2: rows (its method names -> our run names, BPR-MF's; NeuMF's in TABLE2_NEUMF)
# and columns (dataset, base model).
TABLE2_ROWS = {"Teacher": "teacher", "Student": "student", "RD": "RD", "CD": "CD", "DE": "DE", "RRD": "URRD",
               "DE-RRD": "DERRD"}
TABLE2_LABELS = {"CD": "CD (student-guided)"}     # how a row is printed, where its run needs saying
TABLE2_COLUMNS = (("citeULike", "bpr"), ("citeULike", "neumf"), ("foursquare", "bpr"), ("foursquare", "neumf"))


# NeuMF's rows distil from the NeuMF teacher selected on validation (weight decay 0; the specified 1e-3 stays
# in ``NeuMF_teacher``), RRD's at the weight selected on validation
TABLE2_NEUMF = {"teacher": "NeuMF_teacher_reg0", "student": "NeuMF_student", "RD": "NeuMF_RD_teacher_reg0",
                "CD": "NeuMF_CD_teacher_reg0", "DE": "NeuMF_DE_teacher_reg0",
                "URRD": "NeuMF_URRD_teacher_reg0_URRD_lmbda0.001", "DERRD": "NeuMF_DERRD_teacher_reg0_URRD_lmbda0.001"}


def table2_run(row, model):
    """The registered run name of a Table 2 row on a base model."""
    base = TABLE2_ROWS[row]
    return base if model == "bpr" else TABLE2_NEUMF[base]

TABLE_RUNS = ("teacher", "student", "DE", "URRD", "DERRD", "RD", "CD", "CD_teacher", "FTD", "HTD", "DCD", "DE_DCD",
              "UnKD", "RCEKD")   # the multi-seed table's rows
PLOT_RUNS = ("teacher", "student", "DE", "URRD", "IR_RRD", "URRD_unsampled_K100", "DERRD", "RD", "CD", "FTD")


def get(name):
    """The run called ``name``; a KeyError names the known ones."""
    if name not in RUNS:
        raise KeyError(f"unknown run {name!r} (known: {', '.join(RUNS)})")
    return RUNS[name]


def paper_row(label):
    """The Utils.paper key of a log label such as ``DE_LOO1`` or ``URRD_seed1``, or None."""
    base = label.split("_LOO")[0].split("_seed")[0]
    return RUNS[base].paper if base in RUNS else None


def main(argv=None):
    """``python -m Utils.registry list``: every registered run, with its command (to run many of them:
    ``python -m Utils.experiments``)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("what", choices=["list"])
    parser.parse_args(argv)
    print("\n".join(f"{r.name:22s} python {' '.join(r.command())}    {r.what}" for r in RUNS.values()))


if __name__ == "__main__":
    sys.exit(main())
