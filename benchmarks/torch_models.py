"""PyTorch twins of the numba_ae benchmark models (same math, same GEMMs).

Every model here mirrors one numba_ae configuration used by ``run.py``:

* :class:`TiedAutoEncoder` -- numba_ae ``AutoEncoder(784 -> 256, relu, corruption 0.3)``
  pretraining: ``x~ = x`` with each value zeroed with probability 0.3 (no
  rescale), ``h = relu(x~ W + b)``, ``r = relu(h W^T + vb)`` (tied weights),
  loss = MSE(r, x) (mean over columns, then over the batch).
* :class:`SupervisedAutoEncoder` -- the supervised net ``AutoEncoder`` encoder
  (784 -> 256 relu, no corruption) + ``OutputLayer`` (256 -> 784, sigmoid, mse)
  with labels = features.
* :class:`VAE` -- numba_ae ``VariationalAutoencoder(784 -> 32, encoder (512, 256),
  decoder (256, 512), leakyrelu(0.01), pzx identity, num_samples=1)`` with a
  Gaussian (identity; decoder output ``[mean | logvar]``, width 2*784) or
  Bernoulli (sigmoid; BCE-with-logits) reconstruction distribution; loss =
  mean over the batch of ``KL(q(z|x) || N(0, I)) + NLL`` (NLL summed over features).

Parameters can be copied from a numba_ae network (:func:`load_numba_params`)
so both frameworks start from identical weights, and the models accept the
noise explicitly (``u`` / ``eps``) so ``run.py`` can check that losses and
gradients agree with numba_ae's before timing anything.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.01
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class TiedAutoEncoder(nn.Module):
    """Denoising autoencoder with tied weights; ``W`` is [n_in, n_hidden] (numba_ae layout)."""

    def __init__(self, n_in=784, n_hidden=256, corruption_level=0.3):
        super().__init__()
        self.corruption_level = float(corruption_level)
        self.W = nn.Parameter(torch.empty(n_in, n_hidden))
        self.b = nn.Parameter(torch.zeros(n_hidden))
        self.vb = nn.Parameter(torch.zeros(n_in))
        nn.init.normal_(self.W, 0.0, math.sqrt(2.0 / (n_in + n_hidden)))  # DL4J "xavier"

    def loss(self, x, y=None, u=None):
        """Pretrain objective; ``u`` (uniform [0, 1) draws, shape of ``x``) fixes the mask."""
        if u is None:
            u = torch.rand_like(x)
        xt = x.masked_fill(u < self.corruption_level, 0.0)
        h = torch.relu(torch.addmm(self.b, xt, self.W))
        r = torch.relu(torch.addmm(self.vb, h, self.W.t()))
        return F.mse_loss(r, x)  # == mean over batch of (mean over columns)

    def numba_param_map(self):
        """``[(layer_index, numba_name, tensor, transposed)]``."""
        return [(0, "W", self.W, False), (0, "b", self.b, False), (0, "vb", self.vb, False)]


class SupervisedAutoEncoder(nn.Module):
    """AutoEncoder encoder (relu) + sigmoid output layer trained with MSE against ``y``."""

    def __init__(self, n_in=784, n_hidden=256):
        super().__init__()
        self.enc = nn.Linear(n_in, n_hidden)
        self.out = nn.Linear(n_hidden, n_in)

    def forward(self, x):
        return torch.sigmoid(self.out(torch.relu(self.enc(x))))

    def loss(self, x, y=None):
        return F.mse_loss(self(x), x if y is None else y)

    def numba_param_map(self):
        return [(0, "W", self.enc.weight, True), (0, "b", self.enc.bias, False),
                (1, "W", self.out.weight, True), (1, "b", self.out.bias, False)]


class VAE(nn.Module):
    """Variational autoencoder, DL4J/numba_ae layout (two separate q(z|x) heads)."""

    def __init__(self, n_in=784, n_latent=32, encoder_sizes=(512, 256), decoder_sizes=(256, 512),
                 distribution="gaussian"):
        super().__init__()
        if distribution not in ("gaussian", "bernoulli"):
            raise ValueError(f"distribution must be 'gaussian' or 'bernoulli'; got {distribution!r}")
        self.distribution = distribution
        self.n_in = n_in
        sizes = [n_in, *encoder_sizes]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.mean = nn.Linear(sizes[-1], n_latent)
        self.logvar = nn.Linear(sizes[-1], n_latent)
        sizes = [n_latent, *decoder_sizes]
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        width = 2 * n_in if distribution == "gaussian" else n_in
        self.pxz = nn.Linear(sizes[-1], width)

    # ---- pieces -----------------------------------------------------------------------
    def _hidden(self, x):
        h = x
        for lin in self.enc:
            h = F.leaky_relu(lin(h), LEAKY_SLOPE)
        return h

    def encode_mean(self, x):
        """Latent mean (what numba_ae ``net.output`` returns for a VAE layer)."""
        return self.mean(self._hidden(x))

    def posterior(self, x):
        h = self._hidden(x)
        return self.mean(h), self.logvar(h)

    def decode(self, z):
        a = z
        for lin in self.dec:
            a = F.leaky_relu(lin(a), LEAKY_SLOPE)
        return self.pxz(a)

    def nll(self, x, pre):
        """Per-example negative log-likelihood, summed over features [n]."""
        if self.distribution == "gaussian":
            d = self.n_in
            mu, lv = pre[:, :d], pre[:, d:]
            return (_HALF_LOG_2PI + 0.5 * lv + 0.5 * (x - mu).square() * torch.exp(-lv)).sum(dim=1)
        return F.binary_cross_entropy_with_logits(pre, x, reduction="none").sum(dim=1)

    # ---- objectives ---------------------------------------------------------------------
    def loss(self, x, y=None, eps=None):
        """Negative ELBO, mean over the batch (one sample per example)."""
        mean, logvar = self.posterior(x)
        if eps is None:
            eps = torch.randn_like(mean)
        z = mean + torch.exp(0.5 * logvar) * eps
        pre = self.decode(z)
        kl = 0.5 * (torch.exp(logvar) + mean.square() - 1.0 - logvar).sum(dim=1)
        return (kl + self.nll(x, pre)).mean()

    @torch.no_grad()
    def reconstruction_log_probability(self, x, num_samples=16):
        """Mean over ``num_samples`` draws z ~ q(z|x) of log p(x|z) [n] (numba_ae's "mean_log")."""
        mean, logvar = self.posterior(x)
        std = torch.exp(0.5 * logvar)
        acc = torch.zeros(x.shape[0], dtype=x.dtype)
        for _ in range(num_samples):
            z = mean + std * torch.randn_like(mean)
            acc -= self.nll(x, self.decode(z))
        return acc / num_samples

    def numba_param_map(self):
        out = []
        for i, lin in enumerate(self.enc):
            out += [(0, f"e{i}W", lin.weight, True), (0, f"e{i}b", lin.bias, False)]
        out += [(0, "pZXMeanW", self.mean.weight, True), (0, "pZXMeanb", self.mean.bias, False),
                (0, "pZXLogStd2W", self.logvar.weight, True), (0, "pZXLogStd2b", self.logvar.bias, False)]
        for i, lin in enumerate(self.dec):
            out += [(0, f"d{i}W", lin.weight, True), (0, f"d{i}b", lin.bias, False)]
        out += [(0, "pXZW", self.pxz.weight, True), (0, "pXZb", self.pxz.bias, False)]
        return out


# ====================================================================== helpers
def build(kind):
    """The torch model for a benchmark model kind (``ae_pretrain``, ``ae_fit``, ``vae_gauss``, ``vae_bern``)."""
    if kind == "ae_pretrain":
        return TiedAutoEncoder()
    if kind == "ae_fit":
        return SupervisedAutoEncoder()
    if kind == "vae_gauss":
        return VAE(distribution="gaussian")
    if kind == "vae_bern":
        return VAE(distribution="bernoulli")
    raise ValueError(f"unknown model kind {kind!r}")


def load_numba_params(model, net):
    """Copy a numba_ae network's parameters into ``model`` (W [in, out] -> Linear.weight [out, in])."""
    with torch.no_grad():
        for li, name, t, transposed in model.numba_param_map():
            src = torch.from_numpy(net.layers[li].params[name].copy())
            t.copy_(src.t() if transposed else src)


def numba_layout_grads(model):
    """``{(layer_index, numba_name): grad as a numpy array in numba_ae's layout}``."""
    out = {}
    for li, name, t, transposed in model.numba_param_map():
        g = t.grad if t.grad is not None else torch.zeros_like(t)
        out[(li, name)] = (g.t() if transposed else g).detach().numpy().copy()
    return out


def make_optimizer(model, lr=1e-3):
    """Adam with PyTorch defaults (betas 0.9/0.999, eps 1e-8), as numba_ae's ``Adam(1e-3)``."""
    return torch.optim.Adam(model.parameters(), lr=lr)


def make_train_step(model, opt):
    """``step(x, y) -> float``: zero grads, loss, backward, Adam step (the idiomatic loop)."""

    def step(x, y=None):
        opt.zero_grad(set_to_none=True)
        loss = model.loss(x, y)
        loss.backward()
        opt.step()
        return loss.item()

    return step
