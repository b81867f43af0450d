"""SA-VAE's refinement of the amortised posterior (Kim et al. 2018, "Semi-amortized variational
autoencoders", Alg. 1): from the encoder's lambda_0 = (mu, log sigma^2), K steps of stochastic
gradient ascent with momentum on the ELBO,

    v_{k+1} = gamma v_k + clip(grad_lambda ELBO(lambda_k; x) / B),   lambda_{k+1} = lambda_k + alpha v_{k+1},

and z is drawn from q(z; lambda_K). The objective is the batch-mean ELBO at the training batch
size B (``train.batch_size``), as in Kim et al.'s code, whose losses are means over a batch: so
alpha = 1 moves each example by 1/B of its own ELBO gradient, whatever batch it is evaluated in
(taken per example, a step of 1 overshoots a text decoder's ELBO). Each example's gradient is
clipped to its own norm (their code clips the batch's), so one example's refinement does not
depend on the rest of its batch.

In training the steps stay in the autograd graph, so the loss at lambda_K reaches the encoder
through them and the decoder both directly and through them (the exact Hessian-vector products
that Kim et al. approximate by finite differences). In evaluation the steps run on detached
parameters, so no graph outlives a step.
"""

from __future__ import annotations

import torch

from vaesweep.config import RunConfig
from vaesweep.models.posteriors.heads import Posterior


class SVI:
    """The ``svi`` refinement of ``posterior.refinement``. An isotropic posterior refines its
    single log-variance per example (its D columns are copies of it)."""

    def __init__(self, config: RunConfig) -> None:
        post = config.posterior
        self.steps = post.refine_steps
        self.step_size = post.refine_step_size
        self.momentum = post.refine_momentum
        self.clip = post.refine_clip
        self.samples = post.refine_samples
        self.in_evaluation = post.refine_eval == "refined"
        self.tied = post.family == "isotropic"
        self.batch_size = config.train.batch_size

    def __call__(
        self, model, posterior: Posterior, x: torch.Tensor, lengths: torch.Tensor | None
    ) -> Posterior:
        if self.steps == 0 or (not model.training and not self.in_evaluation):
            return posterior
        through = torch.is_grad_enabled()  # training: keep the steps in the graph
        mean = posterior.mean
        logvar = posterior.logvar[:, :1] if self.tied else posterior.logvar
        velocity: tuple[torch.Tensor, torch.Tensor] | None = None
        # cuDNN's LSTM has no double backward: steps kept in the graph run without it
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=not through):
            for _ in range(self.steps):
                if not through:
                    mean, logvar = mean.detach().requires_grad_(), logvar.detach().requires_grad_()
                batch_mean = self.elbo(model, mean, logvar, x, lengths).sum() / self.batch_size
                gradient = torch.autograd.grad(batch_mean, (mean, logvar), create_graph=through)
                gradient = self._clipped(*gradient)
                velocity = (
                    gradient
                    if velocity is None
                    else tuple(self.momentum * v + g for v, g in zip(velocity, gradient, strict=True))
                )
                mean = mean + self.step_size * velocity[0]
                logvar = logvar + self.step_size * velocity[1]
        if not through:
            mean, logvar = mean.detach(), logvar.detach()
        return Posterior(mean, logvar.expand_as(mean) if self.tied else logvar)

    def elbo(
        self,
        model,
        mean: torch.Tensor,
        logvar: torch.Tensor,
        x: torch.Tensor,
        lengths: torch.Tensor | None,
    ) -> torch.Tensor:
        """Each example's ELBO at (mean, logvar), [B]: E_q log p(x|z) from ``refine_samples`` z,
        minus KL(q || p) (closed form under the standard prior, else Monte Carlo)."""
        q = Posterior(mean, logvar.expand_as(mean) if self.tied else logvar)
        z, log_q = q.rsample(self.samples)
        log_px = model.log_px_given_z(z, x, lengths).mean(0)
        if model.prior.is_standard:
            return log_px - q.kl_to_standard_normal().sum(-1)
        return log_px - (log_q - model.prior.log_prob(z)).mean(0)

    def _clipped(
        self, grad_mean: torch.Tensor, grad_logvar: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.clip <= 0:
            return grad_mean, grad_logvar
        norm = (grad_mean.pow(2).sum(-1) + grad_logvar.pow(2).sum(-1)).sqrt()
        scale = (self.clip / norm.clamp_min(1e-12)).clamp(max=1.0).unsqueeze(-1)
        return grad_mean * scale, grad_logvar * scale
