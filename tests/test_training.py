import copy

import pytest
import torch

from Models.BPR import BPR, bpr_loss, bpr_loss_and_grads
from Utils.training.checkpoint import load_checkpoint, save_checkpoint
from Utils.errors import InputError
from Utils.tensors.row_gradients import RowGradients
from Utils.training.selection import PerCutoffSelection
from Models.method import Batch
from Utils.training.trainer import make_optimizer


def test_row_gradients_match_dense_autograd_adam():
    torch.manual_seed(0)
    a = BPR(20, 30, 6)
    b = copy.deepcopy(a)
    opt_a = torch.optim.Adam(a.parameters(), lr=0.01, weight_decay=1e-3)       # the original: dense autograd
    opt_b = make_optimizer([b.user_emb, b.item_emb], 0.01, 1e-3)
    grads = RowGradients([b.user_emb, b.item_emb])
    for step in range(5):
        u, i, j = torch.randint(0, 20, (16,)), torch.randint(0, 30, (16,)), torch.randint(0, 30, (16,))
        opt_a.zero_grad()
        bpr_loss(a.user_emb[u], a.item_emb[i], a.item_emb[j]).backward()
        opt_a.step()
        batch = Batch(u, i, j, b, grads)
        b.train_loss(batch)                    # closed-form gradient, as the training loop does
        grads.accumulate()
        opt_b.step()
        grads.clear()
        assert b.user_emb.grad.abs().sum() == 0
    assert torch.allclose(a.user_emb, b.user_emb, atol=1e-6)
    assert torch.allclose(a.item_emb, b.item_emb, atol=1e-6)


def test_closed_form_bpr_gradients_match_autograd():
    u, i, j = (torch.randn(9, 5, dtype=torch.float64, requires_grad=True) for _ in range(3))
    loss = bpr_loss(u, i, j)
    loss.backward()
    closed = bpr_loss_and_grads(u.detach(), i.detach(), j.detach())
    assert closed[0].item() == pytest.approx(loss.item())
    for autograd_grad, closed_grad in zip((u.grad, i.grad, j.grad), closed[1:]):
        assert torch.allclose(autograd_grad, closed_grad)


def results(h5, h10, h20):
    valid = {"H@5": h5, "N@5": 0, "M@5": 0, "H@10": h10, "N@10": 0, "M@10": 0, "H@20": h20, "N@20": 0, "M@20": 0}
    test = {k: v + 1 for k, v in valid.items()}
    return {"valid": valid, "test": test}


def test_per_cutoff_selection_and_early_stopping():
    sel = PerCutoffSelection(patience=2)
    assert sel.update(0, results(0.1, 0.2, 0.3))
    assert sel.update(1, results(0.2, 0.1, 0.3)) is True       # only H@5 improved (H@20 tie is not strict)
    assert not sel.update(2, results(0.2, 0.2, 0.3)) and sel.counter == 1
    assert sel.update(3, results(0.1, 0.1, 0.4)) and sel.counter == 0
    assert not sel.update(4, results(0.0, 0.0, 0.0))
    assert not sel.should_stop
    assert not sel.update(5, results(0.0, 0.0, 0.0)) and sel.should_stop
    chosen = sel.selected()
    assert sel.best_epoch == {5: 1, 10: 0, 20: 3}
    assert chosen["test"]["H@5"] == 1.2 and chosen["test"]["H@10"] == 1.2 and chosen["test"]["H@20"] == 1.4
    assert sel.last_improved_epoch == 3


def test_checkpoint_with_other_key_is_refused(tmp_path):
    key = {"dataset": "a", "dim": 200, "split": "f00"}
    path = str(tmp_path / "m.pt")
    save_checkpoint(path, {"w": torch.ones(2)}, key)
    assert torch.equal(load_checkpoint(path, key)["state"]["w"], torch.ones(2))
    with pytest.raises(InputError, match=r"dim: checkpoint 200 vs run 20"):
        load_checkpoint(path, dict(key, dim=20))
    with pytest.raises(InputError, match="split"):
        load_checkpoint(path, dict(key, split="bar"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        load_checkpoint(str(tmp_path / "junk.pt"), key)
