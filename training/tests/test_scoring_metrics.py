import math

import numpy as np
import torch

from clipn_kernel.metrics import auroc, fpr_at_95_tpr
from clipn_kernel.scoring import build_heads, format_template, score


def test_scores_on_a_hand_computed_case():
    w_yes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w_no = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    s = score(torch.tensor([[3.0, 4.0]]), w_yes, w_no, logit_scale=10.0)
    l_yes, l_no = [6.0, 8.0], [8.0, 6.0]
    z = math.exp(6) + math.exp(8)
    p = [math.exp(6) / z, math.exp(8) / z]
    p_yes = [1 / (1 + math.exp(l_no[i] - l_yes[i])) for i in range(2)]
    assert int(s.index[0]) == 1
    assert math.isclose(float(s.ctw[0]), p_yes[1], rel_tol=1e-12)
    atd = p_yes[0] * p[0] + p_yes[1] * p[1]
    assert math.isclose(float(s.atd[0]), atd, rel_tol=1e-12)
    assert math.isclose(float(s.msp[0]), p[1], rel_tol=1e-12)
    assert math.isclose(float(s.energy[0]), math.log(z), rel_tol=1e-12)
    assert bool(s.ood_ctw[0]) == (p_yes[1] < 0.5)
    assert bool(s.ood_atd[0]) == (1 - atd > max(p_yes[0] * p[0], p_yes[1] * p[1]))


def test_log_odds_are_the_published_scores_in_log_space():
    w_yes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w_no = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    s = score(torch.tensor([[3.0, 4.0]]), w_yes, w_no, logit_scale=10.0)
    for prob, log_odds in ((s.ctw, s.ctw_log_odds), (s.atd, s.atd_log_odds), (s.msp, s.msp_log_odds)):
        p = float(prob[0])
        assert math.isclose(float(log_odds[0]), math.log(p / (1 - p)), rel_tol=1e-9)
    assert float(s.ctw_log_odds[0]) == 2.0  # l_yes - l_no of the predicted class: 8 - 6


def test_log_odds_rank_images_whose_probabilities_saturate():
    # At logit scale 100 both images' ATD and CTW are exactly 1.0 in float64: the probabilities
    # tie, the log-odds keep their order (the second image is the more confident one).
    w_yes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    w_no = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    s = score(torch.tensor([[1.0, 0.2], [1.0, 0.1]]), w_yes, w_no, logit_scale=100.0)
    assert s.atd.tolist() == [1.0, 1.0] and s.ctw.tolist() == [1.0, 1.0]
    assert float(s.atd_log_odds[0]) < float(s.atd_log_odds[1])
    assert float(s.ctw_log_odds[0]) < float(s.ctw_log_odds[1])
    assert float(s.msp_log_odds[0]) < float(s.msp_log_odds[1])
    assert torch.isfinite(s.atd_log_odds).all()


def test_flags_are_the_published_decisions_on_random_heads():
    g = torch.Generator().manual_seed(3)
    normalize = torch.nn.functional.normalize
    w_yes, w_no = normalize(torch.randn(7, 16, generator=g), dim=-1), normalize(torch.randn(7, 16, generator=g), dim=-1)
    embeds = torch.randn(500, 16, generator=g)
    s = score(embeds, w_yes, w_no, logit_scale=5.0)  # a small scale keeps the probabilities away from 0 and 1
    f = normalize(embeds.double(), dim=-1)
    l_yes, l_no = 5.0 * f @ w_yes.double().t(), 5.0 * f @ w_no.double().t()
    p = torch.softmax(l_yes, dim=-1)
    p_yes = torch.exp(l_yes) / (torch.exp(l_yes) + torch.exp(l_no))
    weighted = p_yes * p
    assert torch.equal(s.ood_ctw, p_yes.gather(1, s.index[:, None])[:, 0] < 0.5)
    assert torch.equal(s.ood_atd, 1 - weighted.sum(-1) > weighted.max(-1).values)
    assert 0 < int(s.ood_atd.sum()) < 500 and 0 < int(s.ood_ctw.sum()) < 500  # both decisions occur


def test_heads_are_normalised_template_ensembles(tiny_model):
    w_yes, w_no = build_heads(tiny_model, ["dog", "cat"], ["a photo of a {}.", "'a bad photo of a {}.'"])
    assert w_yes.shape == (2, 32)
    torch.testing.assert_close(w_yes.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(w_no.norm(dim=-1), torch.ones(2))
    assert format_template("'a bad photo of a {}.'", "dog") == "'a bad photo of a dog.'"


def test_auroc_and_fpr95_on_hand_cases():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    id_s, ood_s = [0.9, 0.7, 0.7, 0.3], [0.8, 0.7, 0.2]
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in id_s for b in ood_s)
    assert math.isclose(auroc(id_s, ood_s), wins / 12)
    assert fpr_at_95_tpr(list(range(1, 21)), [0.5, 10.5]) == 0.5
    assert math.isclose(fpr_at_95_tpr([2, 1], [1]), 0.9)
    assert np.isfinite(fpr_at_95_tpr(np.random.default_rng(0).random(50), np.random.default_rng(1).random(50)))
