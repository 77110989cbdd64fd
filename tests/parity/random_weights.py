# Weights for the parity scripts' tiny random models: far from transformers' 0.02 init, norms away from one
# and biases non-zero, so that every part moves the logits visibly and comparisons mean something.
import torch


def spread_weights(model, norm_std=0.2, weight_std=0.15):
    """Norm weights 1 + N(0, norm_std), every other parameter N(0, weight_std), drawn from torch's generator."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + norm_std * torch.randn_like(p))
            else:
                p.normal_(0.0, weight_std)
