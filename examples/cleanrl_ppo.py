"""PPO with continuous actions in one file, CleanRL-style, on WealthArena's batched vector env.

The algorithm follows CleanRL's ``ppo_continuous_action.py`` conventions (a dataclass of arguments, seeding of
``random`` / NumPy / torch, TensorBoard under ``runs/<run_name>``, clipped surrogate, GAE, value clipping,
advantage normalization, learning-rate annealing), with two things specific to Gymnasium 1.x and this package:

* **The env** is ``gymnasium.make_vec("WealthArena/Portfolio-v0", num_envs=K)``: K portfolios stepped by one
  Numba kernel call, not a loop of K envs. For the multi-agent ``Impact-v0`` task it is
  :class:`wealtharena_env.envs.vector.ArenaVecEnv` with every agent of every arena as one row of the batch
  (parameter sharing: one policy for all agents).
* **Gymnasium 1.x autoreset** (``AutoresetMode.NEXT_STEP``): the step that *ends* an episode returns its real
  final observation, and the *next* step resets that environment (reward 0, action ignored). So the stored
  observation after a truncation is the true final observation — the value bootstraps through the time limit
  with no ``final_obs`` bookkeeping — and the reset steps are masked out of the loss and cut from GAE.

Rewards (daily log returns, ~1e-3) are scaled by a running standard deviation of the discounted return, as
CleanRL's ``NormalizeReward`` wrapper does; the policy is evaluated on the raw env.

    python examples/cleanrl_ppo.py --task ToyDrift-v0 --total-timesteps 30000
    python examples/cleanrl_ppo.py --task Calm-v0 --total-timesteps 500000 --track mlflow
    tensorboard --logdir runs

Outputs in ``<out>/<run_name>/``: ``model.pt`` (state dict and sizes), ``results.json`` (leaderboard results
on the task's held-out evaluation seeds), ``summary.json`` and TensorBoard logs. To evaluate the saved model
with the CLI::

    WEALTHARENA_MODEL=runs/<run_name>/model.pt wealtharena evaluate --task Calm-v0 \\
        --policy examples/cleanrl_ppo.py:policy
"""

import argparse
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


@dataclass
class Args:
    exp_name: str = "cleanrl_ppo"
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
    total_timesteps: int = 100_000
    """total timesteps of the experiments (rows of the batch: agent steps for Impact-v0)"""
    learning_rate: float = 1e-4
    """the learning rate of the optimizer (with 1 024-step rollouts and 5 epochs: large, well-averaged updates
    keep the policy from learning to react to the noise of daily returns; docs/training.md, the ablation).
    For the 32-step ToyDrift-v0 sanity task use --num-steps 256 --learning-rate 3e-4 --update-epochs 10"""
    num_envs: int = 8
    """the number of parallel environments (one Simulation batch)"""
    num_steps: int = 1024
    """the number of steps to run in each environment per policy rollout"""
    anneal_lr: bool = True
    """toggle learning rate annealing for policy and value networks"""
    gamma: float = 0.99
    """the discount factor gamma"""
    gae_lambda: float = 0.95
    """the lambda for the general advantage estimation"""
    num_minibatches: int = 8
    """the number of mini-batches"""
    update_epochs: int = 5
    """the K epochs to update the policy"""
    norm_adv: bool = True
    """toggles advantages normalization"""
    clip_coef: float = 0.2
    """the surrogate clipping coefficient"""
    clip_vloss: bool = True
    """toggles whether or not to use a clipped loss for the value function"""
    ent_coef: float = 0.0
    """coefficient of the entropy"""
    actor_logstd_init: float = -1.0
    """initial log std of the Gaussian policy (-1: std 0.37; with the env's softmax mapping the zero action is
    equal weight, so the policy starts near it and explores around it; 0, CleanRL's usual, churns more)"""
    vf_coef: float = 0.5
    """coefficient of the value function"""
    max_grad_norm: float = 0.5
    """the maximum norm for the gradient clipping"""
    target_kl: float | None = None
    """the target KL divergence threshold"""
    normalize_reward: bool = True
    """scale rewards by a running std of the discounted return"""
    eval_seeds: int | None = None
    """evaluate on the first N of the task's evaluation seeds (default: all 16)"""
    eval_episode_length: int | None = None
    """evaluation episode length (default: the task's)"""

    # to be filled in runtime
    batch_size: int = 0
    """the batch size (computed in runtime)"""
    minibatch_size: int = 0
    """the mini-batch size (computed in runtime)"""
    num_iterations: int = 0
    """the number of iterations (computed in runtime)"""


def parse_args(
    cls: type = Args,
    argv: list[str] | None = None,
    runtime: tuple[str, ...] = ("batch_size", "minibatch_size", "num_iterations"),
):
    """``--kebab-case`` flags from the dataclass fields (what ``tyro.cli(Args)`` gives CleanRL); the
    ``runtime`` fields are computed, not flags."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in runtime:
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
            continue
        base = next((a for a in typing.get_args(kind) if a is not type(None)), kind)
        parser.add_argument(flag, type=base, default=f.default, metavar=base.__name__.upper())
    return cls(**vars(parser.parse_args(argv)))


# ---------------------------------------------------------------------------------------------- env
class FlatArena:
    """:class:`ArenaVecEnv` ``(K, A, ...)`` seen as a vector env of ``K * A`` rows (parameter sharing)."""

    def __init__(self, envs):
        self.envs = envs
        self.num_envs = envs.num_envs * envs.num_agents
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space

    def reset(self, seed=None):
        obs, infos = self.envs.reset(seed=seed)
        return obs.reshape(self.num_envs, -1), infos

    def step(self, actions):
        obs, rewards, terms, truncs, infos = self.envs.step(actions.reshape(*self.envs.action_space.shape))
        return (
            obs.reshape(self.num_envs, -1),
            rewards.reshape(-1),
            terms.reshape(-1),
            truncs.reshape(-1),
            infos,
        )

    def close(self):
        self.envs.close()


def make_envs(task, args: Args):
    """The task's batched env: ``gymnasium.make_vec`` (one kernel call per step for all K environments)."""
    import gymnasium as gym

    kwargs = common.train_kwargs(task, args.episode_length, args.env_kwargs)
    if common.is_multi_agent(task):
        from wealtharena_env.envs.vector import ArenaVecEnv

        return FlatArena(ArenaVecEnv(num_envs=args.num_envs, **kwargs))
    return gym.make_vec(task.env_id, num_envs=args.num_envs, **kwargs)


class RewardScaler:
    """Divides rewards by the running std of each environment's discounted return (CleanRL's
    NormalizeReward)."""

    def __init__(self, num_envs: int, gamma: float, epsilon: float = 1e-8):
        self.returns = np.zeros(num_envs)
        self.gamma, self.epsilon = gamma, epsilon
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def __call__(self, rewards: np.ndarray, dones: np.ndarray, valid: np.ndarray) -> np.ndarray:
        self.returns = np.where(valid, self.returns * self.gamma + rewards, self.returns)
        batch = self.returns[valid]
        if batch.size:  # parallel-variance update of the running moments
            b_mean, b_var, b_count = batch.mean(), batch.var(), batch.size
            delta, total = b_mean - self.mean, self.count + b_count
            self.mean += delta * b_count / total
            self.var = (
                self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
            ) / total
            self.count = total
        self.returns[dones] = 0.0
        return rewards / np.sqrt(self.var + self.epsilon)


# ---------------------------------------------------------------------------------------------- agent
def build_agent(obs_dim: int, act_dim: int, logstd_init: float = -1.0):
    import torch
    from torch import nn
    from torch.distributions.normal import Normal

    def layer_init(layer, std=2**0.5, bias_const=0.0):
        torch.nn.init.orthogonal_(layer.weight, std)
        torch.nn.init.constant_(layer.bias, bias_const)
        return layer

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(
                layer_init(nn.Linear(obs_dim, 64)),
                nn.Tanh(),
                layer_init(nn.Linear(64, 64)),
                nn.Tanh(),
                layer_init(nn.Linear(64, 1), std=1.0),
            )
            self.actor_mean = nn.Sequential(
                layer_init(nn.Linear(obs_dim, 64)),
                nn.Tanh(),
                layer_init(nn.Linear(64, 64)),
                nn.Tanh(),
                layer_init(nn.Linear(64, act_dim), std=0.01),
            )
            self.actor_logstd = nn.Parameter(torch.full((1, act_dim), float(logstd_init)))

        def get_value(self, x):
            return self.critic(x)

        def get_action_and_value(self, x, action=None):
            action_mean = self.actor_mean(x)
            action_std = torch.exp(self.actor_logstd.expand_as(action_mean))
            probs = Normal(action_mean, action_std)
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)

    return Agent()


def make_policy(agent, low: np.ndarray, high: np.ndarray):
    """The deterministic policy (the Gaussian's mean, clipped) on observation batches, for the evaluation."""
    import torch

    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            mean = agent.actor_mean(torch.as_tensor(np.asarray(obs, dtype=np.float32)))
        return np.clip(mean.numpy(), low, high)

    return policy


_LOADED: dict[str, typing.Callable] = {}


def policy(obs: np.ndarray) -> np.ndarray:
    """``wealtharena evaluate --policy examples/cleanrl_ppo.py:policy`` with
    ``WEALTHARENA_MODEL=model.pt``."""
    path = os.environ.get("WEALTHARENA_MODEL")
    if not path:
        raise RuntimeError("set WEALTHARENA_MODEL to the model.pt written by examples/cleanrl_ppo.py")
    if path not in _LOADED:
        import torch

        saved = torch.load(path, map_location="cpu", weights_only=False)
        agent = build_agent(saved["obs_dim"], saved["act_dim"])
        agent.load_state_dict(saved["state_dict"])
        _LOADED[path] = make_policy(agent, np.asarray(saved["action_low"]), np.asarray(saved["action_high"]))
    return _LOADED[path](obs)


# ---------------------------------------------------------------------------------------------- train
def main(args: Args) -> dict:
    import torch
    from torch import nn, optim

    task = common.resolve_task(args.task)
    envs = make_envs(task, args)
    rows = envs.num_envs  # = num_envs, or num_envs * agents for an arena
    args.batch_size = int(rows * args.num_steps)
    args.minibatch_size = int(args.batch_size // args.num_minibatches)
    args.num_iterations = max(1, args.total_timesteps // args.batch_size)
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

    obs_dim = int(np.prod(envs.single_observation_space.shape))
    act_dim = int(np.prod(envs.single_action_space.shape))
    low, high = envs.single_action_space.low, envs.single_action_space.high
    agent = build_agent(obs_dim, act_dim, args.actor_logstd_init).to(device)
    optimizer = optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)

    # ALGO Logic: Storage setup
    obs = torch.zeros((args.num_steps, rows, obs_dim)).to(device)
    actions = torch.zeros((args.num_steps, rows, act_dim)).to(device)
    logprobs = torch.zeros((args.num_steps, rows)).to(device)
    rewards = torch.zeros((args.num_steps, rows)).to(device)
    terminations = torch.zeros((args.num_steps, rows)).to(device)
    dones = torch.zeros((args.num_steps, rows)).to(device)
    values = torch.zeros((args.num_steps, rows)).to(device)
    valid = torch.zeros((args.num_steps, rows)).to(device)  # 0 on autoreset steps (not a transition)

    # TRY NOT TO MODIFY: start the game
    global_step = 0
    start_time = time.time()
    next_obs, _ = envs.reset(seed=args.seed)
    next_obs = torch.Tensor(next_obs).to(device)
    autoreset = np.zeros(rows, dtype=bool)  # NEXT_STEP autoreset: True where this step only resets
    scaler = RewardScaler(rows, args.gamma)
    episode_return = np.zeros(rows)
    episode_length = np.zeros(rows, dtype=np.int64)
    recent_returns: list[float] = []

    for iteration in range(1, args.num_iterations + 1):
        # Annealing the rate if instructed to do so.
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate

        for step in range(args.num_steps):
            global_step += rows
            obs[step] = next_obs
            valid[step] = torch.as_tensor(~autoreset, dtype=torch.float32)

            # ALGO LOGIC: action logic
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob

            # TRY NOT TO MODIFY: execute the game and log data.
            next_obs_np, reward, term, trunc, _infos = envs.step(np.clip(action.cpu().numpy(), low, high))
            done = term | trunc
            is_step = ~autoreset
            scaled = scaler(reward, done, is_step) if args.normalize_reward else reward
            rewards[step] = torch.as_tensor(scaled, dtype=torch.float32).to(device)
            terminations[step] = torch.as_tensor(term, dtype=torch.float32).to(device)
            dones[step] = torch.as_tensor(done, dtype=torch.float32).to(device)
            next_obs = torch.Tensor(next_obs_np).to(device)

            episode_return += np.where(is_step, reward, 0.0)
            episode_length += is_step
            for i in np.flatnonzero(done):
                recent_returns.append(float(episode_return[i]))
                tracker.log(
                    {
                        "charts/episodic_return": episode_return[i],
                        "charts/episodic_length": episode_length[i],
                    },
                    global_step,
                )
                episode_return[i], episode_length[i] = 0.0, 0
            autoreset = done

        # bootstrap value if not done
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                # values[t + 1] is the value of the observation that step t returned: the true final
                # observation when step t ended an episode (NEXT_STEP autoreset), so truncations bootstrap;
                # terminations do not.
                nextvalues = next_value if t == args.num_steps - 1 else values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * (1.0 - terminations[t]) - values[t]
                # GAE stops at every episode end, so the autoreset step t + 1 never leaks into step t.
                advantages[t] = lastgaelam = (
                    delta + args.gamma * args.gae_lambda * (1.0 - dones[t]) * lastgaelam
                )
            returns = advantages + values

        # flatten the batch
        b_obs = obs.reshape((-1, obs_dim))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1, act_dim))
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_valid = valid.reshape(-1)
        b_inds_all = (
            torch.nonzero(b_valid > 0).flatten().cpu().numpy()
        )  # the autoreset steps are not trained on
        minibatch_size = max(1, len(b_inds_all) // args.num_minibatches)

        # Optimizing the policy and value network
        clipfracs = []
        for _epoch in range(args.update_epochs):
            b_inds = np.random.permutation(b_inds_all)
            for start in range(0, len(b_inds), minibatch_size):
                mb_inds = b_inds[start : start + minibatch_size]

                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb_inds], b_actions[mb_inds]
                )
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()

                with torch.no_grad():
                    # calculate approx_kl http://joschu.net/blog/kl-approx.html
                    old_approx_kl = (-logratio).mean()
                    approx_kl = ((ratio - 1) - logratio).mean()
                    clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]

                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv and len(mb_inds) > 1:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

                # Policy loss
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                # Value loss
                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(
                        newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef
                    )
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

            if args.target_kl is not None and approx_kl > args.target_kl:
                break

        y_pred, y_true = b_values[b_inds_all].cpu().numpy(), b_returns[b_inds_all].cpu().numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y

        # TRY NOT TO MODIFY: record rewards for plotting purposes
        sps = int(global_step / (time.time() - start_time))
        tracker.log(
            {
                "charts/learning_rate": optimizer.param_groups[0]["lr"],
                "losses/value_loss": v_loss.item(),
                "losses/policy_loss": pg_loss.item(),
                "losses/entropy": entropy_loss.item(),
                "losses/old_approx_kl": old_approx_kl.item(),
                "losses/approx_kl": approx_kl.item(),
                "losses/clipfrac": np.mean(clipfracs),
                "losses/explained_variance": explained_var,
                "charts/SPS": sps,
            },
            global_step,
        )
        mean_return = np.mean(recent_returns[-rows:]) if recent_returns else float("nan")
        print(
            f"iteration {iteration}/{args.num_iterations} global_step={global_step} "
            f"episodic_return={mean_return:.4f} SPS={sps}"
        )

    envs.close()
    train_seconds = time.time() - start_time
    model_path = run_dir / "model.pt"
    torch.save(
        {
            "state_dict": agent.cpu().state_dict(),
            "obs_dim": obs_dim,
            "act_dim": act_dim,
            "action_low": low.tolist(),
            "action_high": high.tolist(),
            "task": task.key,
            "args": dataclasses.asdict(args),
        },
        model_path,
    )
    print(f"saved {model_path} after {global_step} steps in {train_seconds:.1f}s")

    doc = common.evaluate_policy(
        task,
        make_policy(agent, low, high),
        run_dir / "results.json",
        n_seeds=args.eval_seeds,
        episode_length=args.eval_episode_length,
        entry="cleanrl-ppo",
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
    main(parse_args())
