"""A planted dataset: users in group g interact with every item of group g and nothing else.

After leave-one-out the only unobserved items of a user's own group are its valid and test items,
and every evaluation candidate comes from another group, so a model that learned the groups ranks
each withheld item first.
"""
import os

N_GROUPS, USERS_PER_GROUP, ITEMS_PER_GROUP = 4, 15, 12
TINY_TRAINING = ["--lr", "0.02", "--batch_size", "64", "--max_epoch", "40", "--early_stop", "40",
                 "--num_candidates", "20", "--device", "cpu", "--quiet"]


def write_planted(root, name="planted", header=True):
    """Write ``root/name/interactions.tsv`` (string ids, shuffled-looking order) and return root."""
    folder = os.path.join(root, name)
    os.makedirs(folder, exist_ok=True)
    lines = ["user\titem\trating\ttimestamp"] if header else []
    for g in range(N_GROUPS):
        for u in range(USERS_PER_GROUP):
            for k in range(ITEMS_PER_GROUP):
                item = g * ITEMS_PER_GROUP + (k * 5 + u) % ITEMS_PER_GROUP
                lines.append(f"user{g}_{u}\titem{item}\t1\t{1000 * u + k}")
    with open(os.path.join(folder, "interactions.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return root


def planted_flags(root):
    """Flags that point a run at the planted dataset under ``root`` with tiny training; logs and
    checkpoints stay under ``root``."""
    return ["--data_path", root, "--dataset", "planted", "--log_path", os.path.join(root, "logs"),
            "--save_path", os.path.join(root, "saved")] + TINY_TRAINING
