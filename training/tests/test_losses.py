import math

import torch

from clipn_kernel.losses import clipn_losses


def test_losses_equal_hand_computation_on_two_pairs():
    # Unit vectors in 2-D: f, g, h chosen so every dot product is easy to write.
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    g = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    h = torch.tensor([[0.0, 1.0], [0.8, 0.6]])
    s = 2.0
    # f_i.g_j and f_i.h_j
    fg = [[1.0, 0.6], [0.0, 0.8]]
    fh = [[0.0, 0.8], [1.0, 0.6]]

    def log_q(i, j, which):
        a, b = s * fg[i][j], s * fh[i][j]
        top = a if which == "yes" else b
        return top - math.log(math.exp(a) + math.exp(b))

    l_yes = -(log_q(0, 0, "yes") + log_q(1, 1, "yes")) / 2
    l_no = -(log_q(0, 1, "no") + log_q(1, 0, "no")) / 2
    gh = [0.0, 0.6 * 0.8 + 0.8 * 0.6]
    l_tso = sum(2 - math.sqrt(2 - 2 * x + 1e-4) for x in gh) / 2
    got = clipn_losses(f, g, h, s)
    assert math.isclose(got["l_yes"].item(), l_yes, rel_tol=1e-6)
    assert math.isclose(got["l_no"].item(), l_no, rel_tol=1e-6)
    assert math.isclose(got["l_tso"].item(), l_tso, rel_tol=1e-6)
    assert math.isclose(got["total"].item(), 0.5 * (l_yes + l_no + l_tso), rel_tol=1e-6)


def test_negative_mask_drops_pairs_from_l_no():
    torch.manual_seed(0)
    f, g, h = (torch.nn.functional.normalize(torch.randn(3, 4), dim=-1) for _ in range(3))
    mask = torch.tensor([[False, True, False], [True, False, False], [False, False, False]])
    logits_yes, logits_no = 5 * f @ g.t(), 5 * f @ h.t()
    log_q_no = logits_no - torch.logaddexp(logits_yes, logits_no)
    expected = -(log_q_no[0, 1] + log_q_no[1, 0]) / 2
    assert torch.isclose(clipn_losses(f, g, h, 5.0, mask)["l_no"], expected)


def test_gradients_flow_to_the_no_text_only_through_l_no_and_l_tso():
    f = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    g = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    h = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1).requires_grad_(True)
    clipn_losses(f, g, h, 10.0)["total"].backward()
    assert h.grad is not None and torch.isfinite(h.grad).all()


def test_open_losses_equal_clipn_losses_when_every_image_has_its_caption():
    from clipn_kernel.losses import clipn_losses_open

    torch.manual_seed(1)
    f, g, h = (torch.nn.functional.normalize(torch.randn(5, 8), dim=-1) for _ in range(3))
    mask = torch.rand(5, 5) > 0.3
    want = clipn_losses(f, g, h, 7.0, mask)
    got = clipn_losses_open(f, g, h, 7.0, torch.arange(5), mask & ~torch.eye(5, dtype=torch.bool))
    for key in want:
        assert torch.isclose(got[key], want[key]), key


def test_an_image_without_caption_adds_only_its_l_no_row():
    from clipn_kernel.losses import clipn_losses_open

    torch.manual_seed(2)
    f = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    g, h = (torch.nn.functional.normalize(torch.randn(2, 4), dim=-1) for _ in range(2))
    positive = torch.tensor([0, 1, -1])  # image 2 has no caption: both captions are its negatives
    negatives = torch.tensor([[False, True], [True, False], [True, True]])
    logits_yes, logits_no = 3 * f @ g.t(), 3 * f @ h.t()
    log_q_no = logits_no - torch.logaddexp(logits_yes, logits_no)
    log_q_yes = logits_yes - torch.logaddexp(logits_yes, logits_no)
    got = clipn_losses_open(f, g, h, 3.0, positive, negatives)
    assert torch.isclose(got["l_yes"], -(log_q_yes[0, 0] + log_q_yes[1, 1]) / 2)
    assert torch.isclose(got["l_no"], -(log_q_no[0, 1] + log_q_no[1, 0] + log_q_no[2, 0] + log_q_no[2, 1]) / 4)
    assert torch.isclose(got["l_tso"], (2 - torch.sqrt(2 - 2 * (g * h).sum(-1) + 1e-4)).mean())


def test_open_losses_with_nothing_to_average_are_zero_and_keep_the_graph():
    from clipn_kernel.losses import clipn_losses_open

    f = torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    g = torch.nn.functional.normalize(torch.randn(1, 4), dim=-1)
    h = torch.nn.functional.normalize(torch.randn(1, 4), dim=-1).requires_grad_(True)
    got = clipn_losses_open(f, g, h, 5.0, torch.tensor([0, -1]), torch.tensor([[False], [False]]))
    assert got["l_no"].item() == 0.0
    got["total"].backward()
    assert h.grad is not None and torch.isfinite(h.grad).all()


def test_row_weights_make_l_no_a_weighted_mean_of_the_rows():
    import torch

    from clipn_kernel.losses import clipn_losses_open
    from clipn_kernel.train.loop import balanced_rows

    torch.manual_seed(3)
    f = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    g = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    h = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    positive = torch.tensor([0, 1, 2])
    negatives = ~torch.eye(3, dtype=torch.bool)
    scale = 5.0
    log_q_no = scale * f @ h.t() - torch.logaddexp(scale * f @ g.t(), scale * f @ h.t())
    row_mean = torch.stack([-log_q_no[i][negatives[i]].mean() for i in range(3)])
    # Every image has 2 negatives: the weighted L_no is the weighted mean of the row means.
    w = torch.tensor([0.25, 0.25, 0.5])
    got = clipn_losses_open(f, g, h, scale, positive, negatives, w)["l_no"]
    assert torch.allclose(got, (w * row_mean).sum() / w.sum(), atol=1e-6)
    plain = clipn_losses_open(f, g, h, scale, positive, negatives)["l_no"]
    assert torch.allclose(plain, row_mean.mean(), atol=1e-6)
    # One OOD row among three: it gets half the weight, the two ID rows a quarter each.
    assert torch.allclose(balanced_rows(torch.tensor([False, False, True])), w)
    assert balanced_rows(torch.tensor([True, True])) is None
