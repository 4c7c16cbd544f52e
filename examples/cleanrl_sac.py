"""Soft Actor-Critic with continuous actions in one file, CleanRL-style, on WealthArena's batched vector env.

Follows CleanRL's ``sac_continuous_action.py`` conventions (a dataclass of arguments, seeding, TensorBoard
under ``runs/<run_name>``, twin Q networks with target networks, a tanh-squashed Gaussian actor, delayed
policy updates, automatic entropy tuning), on ``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K)``
(or :class:`~wealtharena_env.envs.vector.ArenaVecEnv` rows for the multi-agent ``Impact-v0`` task: parameter
sharing).

**Gymnasium 1.x autoreset** (``AutoresetMode.NEXT_STEP``): the step that ends an episode returns its true
final observation, so ``(obs, action, reward, next_obs, terminated)`` is stored as is — a truncated transition
keeps ``terminated = False`` and bootstraps through the time limit — and the next step, which only resets that
environment (reward 0, action ignored), is not stored at all. The replay buffer is a small NumPy ring buffer,
so the file needs nothing but torch.

Rewards are multiplied by ``--reward-scale`` (default 100: daily log returns in percent); without it the
entropy bonus of SAC dwarfs rewards of ~1e-3 and the policy stays random.

    python examples/cleanrl_sac.py --task ToyDrift-v0 --total-timesteps 5000
    python examples/cleanrl_sac.py --task Calm-v0 --total-timesteps 200000 --track wandb

Outputs in ``<out>/<run_name>/``: ``model.pt`` (actor state dict and sizes), ``results.json`` (leaderboard
results on the task's held-out evaluation seeds), ``summary.json`` and TensorBoard logs. CLI evaluation::

    WEALTHARENA_MODEL=runs/<run_name>/model.pt wealtharena evaluate --task Calm-v0 \\
        --policy examples/cleanrl_sac.py:policy
"""

import dataclasses
import os
import random
import sys
import time
import typing
from dataclasses import dataclass
from pathlib import Path

# Numba's OpenMP workers spin beside the learner (steps 4-5x slower on shared cores); values you set win.
if "numba" not in sys.modules:  # only before numba reads them (changing them later makes numba raise)
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # examples/common.py: tasks, tracking, evaluation
from cleanrl_ppo import make_envs, parse_args  # the same env construction and flag parsing


@dataclass
class Args:
    exp_name: str = "cleanrl_sac"
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (a published training seed)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    torch_threads: int = 1
    """torch CPU threads (small MLPs: more threads only add overhead)"""
    cuda: bool = False
    """if toggled, use CUDA when available"""
    track: str = "tensorboard"
    """experiment tracking: tensorboard, mlflow (local SQLite, plus TensorBoard), wandb (offline, plus
    TensorBoard)"""
    mlflow_uri: str | None = None
    """MLflow tracking URI (default: sqlite in --out)"""
    out: str = "runs"
    """output folder (one sub-folder per run)"""

    # Algorithm specific arguments
    task: str = "ToyDrift-v0"
    """a leaderboard task (Calm-v0, Regimes-v0, ..., Impact-v0) or ToyDrift-v0 (a sanity task)"""
    episode_length: int | None = None
    """training episode length (default: the task's)"""
    env_kwargs: str = "{}"
    """JSON object of env keyword arguments merged over the task's training env kwargs, e.g.
    '{"reward_mode": "log_return"}' (the evaluation plays the task's env as published)"""
    num_envs: int = 1
    """the number of parallel environments (one Simulation batch)"""
    total_timesteps: int = 100_000
    """total timesteps of the experiments (rows of the batch: agent steps for Impact-v0)"""
    buffer_size: int = 1_000_000
    """the replay memory buffer size"""
    gamma: float = 0.99
    """the discount factor gamma"""
    tau: float = 0.005
    """target smoothing coefficient"""
    batch_size: int = 256
    """the batch size of sample from the replay memory"""
    learning_starts: int = 2_000
    """timestep to start learning"""
    policy_lr: float = 3e-4
    """the learning rate of the policy network optimizer"""
    q_lr: float = 1e-3
    """the learning rate of the Q network optimizer"""
    policy_frequency: int = 2
    """the frequency of training policy (delayed)"""
    target_network_frequency: int = 1
    """the frequency of updates for the target networks"""
    alpha: float = 0.2
    """entropy regularization coefficient"""
    autotune: bool = True
    """automatic tuning of the entropy coefficient"""
    reward_scale: float = 100.0
    """rewards are multiplied by this before they enter the buffer"""
    eval_seeds: int | None = None
    """evaluate on the first N of the task's evaluation seeds (default: all 16)"""
    eval_episode_length: int | None = None
    """evaluation episode length (default: the task's)"""


class ReplayBuffer:
    """A ring buffer of ``(obs, next_obs, action, reward, terminated)`` rows."""

    def __init__(self, size: int, obs_dim: int, act_dim: int, rng: np.random.Generator):
        self.size, self.pos, self.full, self.rng = size, 0, False, rng
        self.obs = np.zeros((size, obs_dim), np.float32)
        self.next_obs = np.zeros((size, obs_dim), np.float32)
        self.actions = np.zeros((size, act_dim), np.float32)
        self.rewards = np.zeros(size, np.float32)
        self.terminations = np.zeros(size, np.float32)

    def __len__(self) -> int:
        return self.size if self.full else self.pos

    def add(self, obs, next_obs, actions, rewards, terminations) -> None:
        for i in range(len(obs)):
            self.obs[self.pos], self.next_obs[self.pos], self.actions[self.pos] = (
                obs[i],
                next_obs[i],
                actions[i],
            )
            self.rewards[self.pos], self.terminations[self.pos] = rewards[i], terminations[i]
            self.pos = (self.pos + 1) % self.size
            self.full = self.full or self.pos == 0

    def sample(self, batch_size: int):
        idx = self.rng.integers(0, len(self), size=batch_size)
        return self.obs[idx], self.next_obs[idx], self.actions[idx], self.rewards[idx], self.terminations[idx]


def build_networks(obs_dim: int, act_dim: int, low: np.ndarray, high: np.ndarray):
    """``(SoftQNetwork class, Actor)``: CleanRL's 256-unit MLPs."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    LOG_STD_MAX, LOG_STD_MIN = 2, -5

    class SoftQNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(obs_dim + act_dim, 256)
            self.fc2 = nn.Linear(256, 256)
            self.fc3 = nn.Linear(256, 1)

        def forward(self, x, a):
            x = torch.cat([x, a], 1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(obs_dim, 256)
            self.fc2 = nn.Linear(256, 256)
            self.fc_mean = nn.Linear(256, act_dim)
            self.fc_logstd = nn.Linear(256, act_dim)
            # action rescaling
            self.register_buffer("action_scale", torch.tensor((high - low) / 2.0, dtype=torch.float32))
            self.register_buffer("action_bias", torch.tensor((high + low) / 2.0, dtype=torch.float32))

        def forward(self, x):
            x = F.relu(self.fc2(F.relu(self.fc1(x))))
            mean = self.fc_mean(x)
            log_std = torch.tanh(self.fc_logstd(x))
            log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (
                log_std + 1
            )  # From SpinUp / Denis Yarats
            return mean, log_std

        def get_action(self, x):
            mean, log_std = self(x)
            std = log_std.exp()
            normal = torch.distributions.Normal(mean, std)
            x_t = normal.rsample()  # for reparameterization trick (mean + std * N(0,1))
            y_t = torch.tanh(x_t)
            action = y_t * self.action_scale + self.action_bias
            log_prob = normal.log_prob(x_t)
            # Enforcing Action Bound
            log_prob -= torch.log(self.action_scale * (1 - y_t.pow(2)) + 1e-6)
            log_prob = log_prob.sum(1, keepdim=True)
            mean = torch.tanh(mean) * self.action_scale + self.action_bias
            return action, log_prob, mean

    return SoftQNetwork, Actor()


def make_policy(actor):
    """The deterministic policy (the squashed mean) on observation batches, for the evaluation."""
    import torch

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            _, _, mean = actor.get_action(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
        return mean.numpy()

    return policy


_LOADED: dict[str, typing.Callable] = {}


def policy(obs: np.ndarray) -> np.ndarray:
    """``wealtharena evaluate --policy examples/cleanrl_sac.py:policy`` with
    ``WEALTHARENA_MODEL=model.pt``."""
    path = os.environ.get("WEALTHARENA_MODEL")
    if not path:
        raise RuntimeError("set WEALTHARENA_MODEL to the model.pt written by examples/cleanrl_sac.py")
    if path not in _LOADED:
        import torch

        saved = torch.load(path, map_location="cpu", weights_only=False)
        low, high = np.asarray(saved["action_low"]), np.asarray(saved["action_high"])
        _, actor = build_networks(saved["obs_dim"], saved["act_dim"], low, high)
        actor.load_state_dict(saved["actor"])
        _LOADED[path] = make_policy(actor)
    return _LOADED[path](obs)


def main(args: Args) -> dict:
    import torch
    import torch.nn.functional as F
    from torch import optim

    task = common.resolve_task(args.task)
    run_name = f"{task.key}__{args.exp_name}__{args.seed}__{int(time.time())}"
    run_dir = Path(args.out) / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    env_record = common.env_kwargs_record(task, args.episode_length, args.env_kwargs)
    config = {**vars(args), **env_record}
    common.write_json(run_dir / "config.json", config)
    tracker = common.Tracker(args.track, run_dir, run_name, config, mlflow_uri=args.mlflow_uri)

    # TRY NOT TO MODIFY: seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")

    # env setup
    envs = make_envs(task, args)
    rows = envs.num_envs
    space = envs.single_action_space
    space.seed(args.seed)
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(space.shape))
    low, high = space.low.astype(np.float32), space.high.astype(np.float32)

    SoftQNetwork, actor = build_networks(obs_dim, act_dim, low, high)
    actor = actor.to(device)
    qf1, qf2, qf1_target, qf2_target = (SoftQNetwork().to(device) for _ in range(4))
    qf1_target.load_state_dict(qf1.state_dict())
    qf2_target.load_state_dict(qf2.state_dict())
    q_optimizer = optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=args.q_lr)
    actor_optimizer = optim.Adam(list(actor.parameters()), lr=args.policy_lr)

    # Automatic entropy tuning
    if args.autotune:
        target_entropy = -float(act_dim)
        log_alpha = torch.zeros(1, requires_grad=True, device=device)
        alpha = log_alpha.exp().item()
        a_optimizer = optim.Adam([log_alpha], lr=args.q_lr)
    else:
        alpha = args.alpha

    rb = ReplayBuffer(
        min(args.buffer_size, max(args.total_timesteps, 1)),
        obs_dim,
        act_dim,
        np.random.default_rng(args.seed),
    )
    start_time = time.time()

    # TRY NOT TO MODIFY: start the game
    obs, _ = envs.reset(seed=args.seed)
    autoreset = np.zeros(rows, dtype=bool)  # NEXT_STEP autoreset: True where this step only resets
    episode_return = np.zeros(rows)
    episode_length = np.zeros(rows, dtype=np.int64)
    recent_returns: list[float] = []
    global_step = 0
    n_updates = 0
    while global_step < args.total_timesteps:
        # ALGO LOGIC: put action logic here
        if global_step < args.learning_starts:
            actions = np.stack([space.sample() for _ in range(rows)])
        else:
            with torch.no_grad():
                actions, _, _ = actor.get_action(torch.Tensor(obs).to(device))
            actions = actions.cpu().numpy()

        # TRY NOT TO MODIFY: execute the game and log data.
        next_obs, rewards, terminations, truncations, _infos = envs.step(actions)
        is_step = ~autoreset
        global_step += int(is_step.sum())

        # TRY NOT TO MODIFY: save data to replay buffer; the autoreset steps are not transitions.
        # next_obs is the true final observation when an episode ended (NEXT_STEP autoreset), and truncation
        # is not termination, so the target bootstraps through the time limit.
        keep = np.flatnonzero(is_step)
        rb.add(
            obs[keep], next_obs[keep], actions[keep], rewards[keep] * args.reward_scale, terminations[keep]
        )

        dones = terminations | truncations
        episode_return += np.where(is_step, rewards, 0.0)
        episode_length += is_step
        for i in np.flatnonzero(dones):
            recent_returns.append(float(episode_return[i]))
            tracker.log(
                {"charts/episodic_return": episode_return[i], "charts/episodic_length": episode_length[i]},
                global_step,
            )
            episode_return[i], episode_length[i] = 0.0, 0
        autoreset = dones

        # TRY NOT TO MODIFY: CRUCIAL step easy to overlook
        obs = next_obs

        # ALGO LOGIC: training.
        if global_step > args.learning_starts and len(rb) >= args.batch_size:
            n_updates += 1
            b_obs, b_next_obs, b_actions, b_rewards, b_terms = (
                torch.as_tensor(x, device=device) for x in rb.sample(args.batch_size)
            )
            with torch.no_grad():
                next_state_actions, next_state_log_pi, _ = actor.get_action(b_next_obs)
                qf1_next_target = qf1_target(b_next_obs, next_state_actions)
                qf2_next_target = qf2_target(b_next_obs, next_state_actions)
                min_qf_next_target = torch.min(qf1_next_target, qf2_next_target) - alpha * next_state_log_pi
                next_q_value = b_rewards + (1 - b_terms) * args.gamma * min_qf_next_target.view(-1)

            qf1_a_values = qf1(b_obs, b_actions).view(-1)
            qf2_a_values = qf2(b_obs, b_actions).view(-1)
            qf1_loss = F.mse_loss(qf1_a_values, next_q_value)
            qf2_loss = F.mse_loss(qf2_a_values, next_q_value)
            qf_loss = qf1_loss + qf2_loss

            # optimize the model
            q_optimizer.zero_grad()
            qf_loss.backward()
            q_optimizer.step()

            if n_updates % args.policy_frequency == 0:  # TD 3 Delayed update support
                for _ in range(
                    args.policy_frequency
                ):  # compensate for the delay by doing 'actor_update_interval' instead of 1
                    pi, log_pi, _ = actor.get_action(b_obs)
                    qf1_pi = qf1(b_obs, pi)
                    qf2_pi = qf2(b_obs, pi)
                    min_qf_pi = torch.min(qf1_pi, qf2_pi)
                    actor_loss = ((alpha * log_pi) - min_qf_pi).mean()

                    actor_optimizer.zero_grad()
                    actor_loss.backward()
                    actor_optimizer.step()

                    if args.autotune:
                        with torch.no_grad():
                            _, log_pi, _ = actor.get_action(b_obs)
                        alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()

                        a_optimizer.zero_grad()
                        alpha_loss.backward()
                        a_optimizer.step()
                        alpha = log_alpha.exp().item()

            # update the target networks
            if n_updates % args.target_network_frequency == 0:
                for param, target_param in zip(qf1.parameters(), qf1_target.parameters()):
                    target_param.data.copy_(args.tau * param.data + (1 - args.tau) * target_param.data)
                for param, target_param in zip(qf2.parameters(), qf2_target.parameters()):
                    target_param.data.copy_(args.tau * param.data + (1 - args.tau) * target_param.data)

            if n_updates % 100 == 0:
                sps = int(global_step / (time.time() - start_time))
                tracker.log(
                    {
                        "losses/qf1_values": qf1_a_values.mean().item(),
                        "losses/qf2_values": qf2_a_values.mean().item(),
                        "losses/qf1_loss": qf1_loss.item(),
                        "losses/qf2_loss": qf2_loss.item(),
                        "losses/qf_loss": qf_loss.item() / 2.0,
                        "losses/actor_loss": actor_loss.item()
                        if n_updates >= args.policy_frequency
                        else float("nan"),
                        "losses/alpha": alpha,
                        "charts/SPS": sps,
                    },
                    global_step,
                )
                if n_updates % 1000 == 0:
                    mean_return = np.mean(recent_returns[-10:]) if recent_returns else float("nan")
                    print(
                        f"global_step={global_step} episodic_return={mean_return:.4f} alpha={alpha:.4f} "
                        f"SPS={sps}"
                    )

    envs.close()
    train_seconds = time.time() - start_time
    actor = actor.cpu()
    model_path = run_dir / "model.pt"
    torch.save(
        {
            "actor": actor.state_dict(),
            "qf1": qf1.cpu().state_dict(),
            "qf2": qf2.cpu().state_dict(),
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "action_low": low.tolist(),
            "action_high": high.tolist(),
            "task": task.key,
            "args": dataclasses.asdict(args),
        },
        model_path,
    )
    print(f"saved {model_path} after {global_step} steps ({n_updates} updates) in {train_seconds:.1f}s")

    doc = common.evaluate_policy(
        task,
        make_policy(actor),
        run_dir / "results.json",
        n_seeds=args.eval_seeds,
        episode_length=args.eval_episode_length,
        entry="cleanrl-sac",
    )
    summary = common.summarize(doc)
    tracker.log(
        {"eval/mean_return": summary["mean_return"], "eval/mean_total_return": summary["mean_total_return"]},
        global_step,
    )
    tracker.log_artifact(run_dir / "results.json")
    tracker.close()
    common.write_json(run_dir / "summary.json", {**summary, "train_seconds": train_seconds, **env_record})
    return {"model": model_path, "results": run_dir / "results.json", "summary": summary}


if __name__ == "__main__":
    main(parse_args(Args, runtime=()))
