"""SA-VAE's refinement of the amortised posterior (Kim et al. 2018, "Semi-amortized variational
autoencoders", Alg. 1): from the encoder's lambda_0 = (mu, log sigma^2), K steps of stochastic
gradient ascent with momentum on the ELBO,

    v_{k+1} = gamma v_k + clip(grad_lambda ELBO(lambda_k; x) / B),   lambda_{k+1} = lambda_k + alpha v_{k+1},

and z is drawn from q(z; lambda_K). The objective is the batch-mean ELBO at the training batch
size B (``train.batch_size``), as in Kim et al.'s code, whose losses are means over a batch: so
alpha = 1 moves each example by 1/B of its own ELBO gradient, whatever batch it is evaluated in
(taken per example, a step of 1 overshoots a text decoder's ELBO). Their code clips the
batch's gradient to norm c = 5, which leaves each of B examples of equal norm c / sqrt(B): here
each example's share is clipped to c / sqrt(B), so one example's refinement does not depend on
the rest of its batch and the steps are no longer than theirs (clipped per example at c, the
steps on synthetic text were sqrt(32) times longer and threw the refined means 10 prior standard
deviations from the encoder's).

In training the steps stay in the autograd graph, so the loss at lambda_K reaches the encoder
through them and the decoder both directly and through them (the exact Hessian-vector products
that Kim et al. approximate by finite differences). The backward pass is clipped as Kim et al.'s
is: the gradient reaching each lambda_k is clipped to the same c / sqrt(B), per example. Unclipped, it
is a product of K step Jacobians I + alpha H_k / B, which grow once the ELBO's curvature outruns
the step (a sharp posterior under an LSTM decoder): on synthetic text the encoder's gradient
reached 1e9 within an epoch and the run went non-finite. In evaluation the steps run on detached
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
        self.clip = post.refine_clip / config.train.batch_size**0.5  # per example: see the module
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
                if through:
                    mean, logvar = _ClipBackward.apply(mean, logvar, self.clip)
                else:
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
        return _clip_per_example(grad_mean, grad_logvar, self.clip)


def _clip_per_example(
    mean: torch.Tensor, logvar: torch.Tensor, clip: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, logvar) [B, .] scaled so that each example's joint norm is at most ``clip`` (none
    when ``clip`` <= 0)."""
    if clip <= 0:
        return mean, logvar
    norm = (mean.pow(2).sum(-1) + logvar.pow(2).sum(-1)).sqrt()
    scale = (clip / norm.clamp_min(1e-12)).clamp(max=1.0).unsqueeze(-1)
    return mean * scale, logvar * scale


class _ClipBackward(torch.autograd.Function):
    """Identity on (mean, logvar) whose backward clips the incoming gradient per example: the
    backward-pass clipping of Kim et al.'s SVI, which keeps the gradient through K steps bounded."""

    @staticmethod
    def forward(ctx, mean: torch.Tensor, logvar: torch.Tensor, clip: float):
        ctx.clip = clip
        return mean.view_as(mean), logvar.view_as(logvar)

    @staticmethod
    def backward(ctx, grad_mean: torch.Tensor, grad_logvar: torch.Tensor):
        return (*_clip_per_example(grad_mean, grad_logvar, ctx.clip), None)
